module statusd/bench/crowd_go

go 1.19
