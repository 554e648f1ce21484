# two channels, variable length, labels a and b
@problemName toy
@timeStamps false
@univariate false
@dimensions 2
@equalLength false
@classLabel true a b
@data
1.0,2.0,3.0:4.0,5.0,6.0:a
7.5,8.5:9.5,10.5:b
1.5,2.5,3.5:4.5,5.5,6.5:a
7.0,8.0:9.0,10.0:b
