package main

import (
	"testing"

	"go.uber.org/goleak"
)

// Every invocation closes its connection and every fake server stops: no
// goroutine may outlive the tests.
func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}
