package main

import (
	"fmt"
	"os"
	"strings"
)

const (
	beginMark = "<!-- results:begin -->"
	endMark   = "<!-- results:end -->"
)

// replaceBlock puts text between the README's result markers.
func replaceBlock(path, text string) error {
	b, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	s := string(b)
	i := strings.Index(s, beginMark)
	j := strings.Index(s, endMark)
	if i < 0 || j < i {
		return fmt.Errorf("%s has no %s … %s block", path, beginMark, endMark)
	}
	s = s[:i+len(beginMark)] + "\n" + text + s[j:]
	return os.WriteFile(path, []byte(s), 0o644)
}
