% Two-dimensional series of lengths 3, 1 and 2; tag names in mixed case on purpose.
@ProblemName TinyMultivariateUnequal
@TIMESTAMPS false
@missing false
@univariate false
@dimensions 2
@equalLength false
@classLabel true walk run

@data
1,2,3:10,20,30:run
4:40:walk
5,6:50,60:walk
