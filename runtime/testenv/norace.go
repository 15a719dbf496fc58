//go:build !race

package testenv

// raceEnabled reports whether the test binary was built with the race detector, so that the
// binaries the tests start are built the same way.
const raceEnabled = false
