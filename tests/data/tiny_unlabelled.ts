@problemName TinyUnlabelled
@timeStamps false
@missing false
@univariate true
@equalLength false
@classLabel false
@data
1,2,3
4,5
