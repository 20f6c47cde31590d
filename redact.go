package justredis

import "strings"

// A server may quote a command's arguments back in an error reply: Redis
// 5, which knows no HELLO, answers "ERR unknown command 'HELLO', with args
// beginning with: '3' 'AUTH' 'default' '<password>'", and a proxy may do
// the same with AUTH. The client hides its password in every error reply
// it decodes, so that no error it returns shows it.

// hidden stands for a password in an error text.
const hidden = "(password hidden)"

// argsMarker introduces the arguments Redis quotes in "unknown command"
// errors, at most 128 bytes of them, so the last one may be cut short.
const argsMarker = "args beginning with:"

// redact returns msg with secret hidden wherever it stands whole, and
// wherever a quoted argument may be a cut-short start of it.
func redact(msg, secret string) string {
	if secret == "" {
		return msg
	}
	msg = strings.ReplaceAll(msg, secret, hidden)
	i := strings.Index(msg, argsMarker)
	if i < 0 {
		return msg
	}
	i += len(argsMarker)
	args := strings.TrimSpace(msg[i:])
	if len(args) < 2 || args[0] != '\'' || args[len(args)-1] != '\'' {
		return msg
	}
	quoted := strings.Split(args[1:len(args)-1], "' '")
	changed := false
	for k, a := range quoted {
		if a != "" && strings.HasPrefix(secret, a) {
			quoted[k] = hidden
			changed = true
		}
	}
	if !changed {
		return msg
	}
	return msg[:i] + " '" + strings.Join(quoted, "' '") + "'"
}

// redactError returns e, or a copy with secret hidden when its text holds
// it.
func redactError(e *Error, secret string) *Error {
	if secret == "" {
		return e
	}
	if msg := redact(e.msg, secret); msg != e.msg {
		return &Error{msg: msg}
	}
	return e
}
