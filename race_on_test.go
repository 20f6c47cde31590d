//go:build race

package justredis_test

// raceEnabled: the race detector changes allocation counts.
const raceEnabled = true
