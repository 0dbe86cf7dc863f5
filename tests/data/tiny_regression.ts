# Regression: the target is the last field.
@problemName TinyRegression
@timeStamps false
@missing false
@univariate true
@equalLength false
@targetLabel true
@data
1,2,3:0.5
4,5:-2.25
