module github.com/justredis/justredis

go 1.23
