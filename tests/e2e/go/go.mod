module bypass/e2e/gotest

go 1.19
