package justredis

import (
	"strings"
	"unicode"
	"unicode/utf8"
)

// A server may quote a command's arguments back in an error reply: Redis
// 5, which knows no HELLO, answers "ERR unknown command `HELLO`, with args
// beginning with: `3`, `AUTH`, `default`, `<password>`, " (later versions
// quote as '3' 'AUTH'), and a proxy may do the same with AUTH; a script
// may return any text as an error, inside an array too. The client hides
// its password in every error it reads, where a Reader gives the error's
// token (Reader.Next), whatever the decoder and however deep the error
// lies, so that no error and no RawValue it returns shows it. Every Reader
// that reads a server's replies must therefore be given the password.

// hidden stands for a password in an error text.
const hidden = "(password hidden)"

// argsMarker introduces the arguments Redis quotes in "unknown command"
// errors, at most 128 bytes of them, so the last one may be cut short.
const argsMarker = "args beginning with:"

// redact returns msg with secret hidden wherever it stands as a whole word,
// and in the last argument a server quoted when that may be a cut-short
// start of it. An occurrence inside a longer word is the server's own text
// (password "PASS" in "WRONGPASS"), and stays. Redis writes a CR or LF in
// an error as a space, and quotes an argument only up to a NUL byte: a
// password with those is looked for as Redis shows it too.
func redact(msg, secret string) string {
	if secret == "" || onlyReadWords(secret) {
		return msg
	}
	forms := shownForms(secret)
	code := errorCode(msg)
	for _, f := range forms {
		if len(f) > len(code) && strings.HasPrefix(msg, f) {
			// A password that starts the text and goes on past its
			// first word (a script's error): no code to spare.
			return redactForms(msg, forms)
		}
	}
	// The codes the client acts on, and a redirection, which holds nothing
	// but a slot and an address that the client follows: neither quotes an
	// argument, and a password that happens to be one of their words
	// ("6379", "LOADING") must not break them.
	switch code {
	case "MOVED", "ASK":
		if strings.Count(msg, " ") == 2 {
			return msg
		}
	case "TRYAGAIN", "CLUSTERDOWN", "LOADING", "NOSCRIPT", "READONLY", "MASTERDOWN", "NOPROTO", "EXECABORT":
		return code + redactForms(msg[len(code):], forms)
	}
	return redactForms(msg, forms)
}

// readWords are the words of Redis's own error texts that the client reads
// ("unknown command", "cluster support disabled", "'ping' command"). A
// password made of them alone is not hidden: that would hide Redis's
// words, and one that common is no secret to hide.
var readWords = map[string]bool{"unknown": true, "command": true, "cluster": true, "support": true, "disabled": true, "ping": true}

// onlyReadWords reports whether secret is made of readWords alone, apart
// from spaces and punctuation.
func onlyReadWords(secret string) bool {
	words := strings.FieldsFunc(secret, func(r rune) bool { return !isWordRune(r) })
	for _, w := range words {
		if !readWords[w] {
			return false
		}
	}
	return len(words) > 0
}

// shownForms returns secret as Redis may show it in an error: as it is,
// with CR and LF written as spaces, and either cut at a NUL byte, where
// Redis stops quoting an argument.
func shownForms(secret string) []string {
	forms := []string{secret}
	if spaced := strings.Map(crlfAsSpace, secret); spaced != secret {
		forms = append(forms, spaced)
	}
	for _, f := range forms {
		if i := strings.IndexByte(f, 0); i > 0 {
			forms = append(forms, f[:i])
		}
	}
	return forms
}

func crlfAsSpace(r rune) rune {
	if r == '\r' || r == '\n' {
		return ' '
	}
	return r
}

// redactForms is redactText for each form of the password in turn.
func redactForms(msg string, forms []string) string {
	for _, f := range forms {
		msg = redactText(msg, f)
	}
	return msg
}

// errorCode returns the code msg starts with: upper-case letters followed
// by a space. A message that is one word only is all text, as a script's
// error may be.
func errorCode(msg string) string {
	for i := 0; i < len(msg); i++ {
		switch c := msg[i]; {
		case c == ' ' && i > 0:
			return msg[:i]
		case c < 'A' || c > 'Z':
			return ""
		}
	}
	return ""
}

// redactText is redact for an error's text after its code.
func redactText(msg, secret string) string {
	msg = replaceWords(msg, secret)
	i := strings.Index(msg, argsMarker)
	if i < 0 {
		return msg
	}
	i += len(argsMarker)
	args := strings.TrimSpace(msg[i:])
	var sep, end string
	switch {
	case len(args) >= 2 && args[0] == '\'' && strings.HasSuffix(args, "'"):
		sep, end = "' '", "'" // Redis 6 and later: 'a' 'b'
	case len(args) >= 3 && args[0] == '`' && strings.HasSuffix(args, "`,"):
		sep, end = "`, `", "`," // Redis 5: `a`, `b`,
	default:
		return msg
	}
	// Only the last argument may have been cut: any other that is a start
	// of the password is not it, since it would have been whole.
	quoted := strings.Split(args[1:len(args)-len(end)], sep)
	last := quoted[len(quoted)-1]
	if last == "" || last == hidden || !strings.HasPrefix(secret, last) {
		return msg
	}
	quoted[len(quoted)-1] = hidden
	return msg[:i] + " " + args[:1] + strings.Join(quoted, sep) + end
}

// replaceWords replaces with hidden each occurrence of secret in msg that
// is not part of a longer word: one that a letter or digit just before or
// after would join to a letter or digit at that end of secret.
func replaceWords(msg, secret string) string {
	var b strings.Builder
	done := 0 // msg[:done] is in b, or needs no change
	for from := 0; ; {
		j := strings.Index(msg[from:], secret)
		if j < 0 {
			break
		}
		j += from
		end := j + len(secret)
		if joins(msg[:j], secret) || joins(secret, msg[end:]) {
			from = j + 1
			continue
		}
		b.WriteString(msg[done:j])
		b.WriteString(hidden)
		done, from = end, end
	}
	if done == 0 {
		return msg
	}
	b.WriteString(msg[done:])
	return b.String()
}

// joins reports whether a and b, side by side, make one word: a ends and
// b starts with a letter or a digit.
func joins(a, b string) bool {
	r1, _ := utf8.DecodeLastRuneInString(a)
	r2, _ := utf8.DecodeRuneInString(b)
	return isWordRune(r1) && isWordRune(r2)
}

func isWordRune(r rune) bool {
	return r != utf8.RuneError && (unicode.IsLetter(r) || unicode.IsDigit(r))
}
