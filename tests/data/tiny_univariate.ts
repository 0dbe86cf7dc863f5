# Three univariate series of length 4, two classes listed in the header (b first).
@problemName TinyUnivariate
@timeStamps false
@missing false
@univariate true
@equalLength true
@seriesLength 4
@classLabel true b a
@data
1.0,2.0,3.0,4.0:a
-1.5,0.5,2.5e1,0:b
0.25,0.25,0.25,0.25:a
