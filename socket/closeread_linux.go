package socket

// closeReadKeeps: a Linux socket shut for reading still gives what arrived
// before.
const closeReadKeeps = true
