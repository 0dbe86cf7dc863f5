# Missing values: '?' inside a series is filled from the previous step of its dimension
# (the first observed value at the start); steps missing in every dimension at the end
# shorten the series.
@problemName TinyMissing
@timeStamps false
@missing true
@univariate false
@dimensions 2
@equalLength true
@seriesLength 5
@classLabel true x y
@data
1,?,3,?,?:?,20,?,?,?:x
?,2,3,4,5:10,20,30,40,NaN:y
