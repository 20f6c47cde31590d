package justredis

import (
	"errors"
	"fmt"
	"strings"
)

// decodeMessage turns a frame the server pushed into a Message, decoding
// its payload with d. secret is the password to hide in errors.
func decodeMessage(frame []byte, d Decoder, secret string) (Message, error) {
	switch Kind(frame[0]) {
	case KindError, KindBlobError:
		_, err := decodeReply(&Reader{secret: secret}, frame, d)
		var e *Error
		if errors.As(err, &e) {
			return Message{Kind: "error", Data: e}, e
		}
		return Message{}, err
	case KindSimple:
		// PONG (PING outside subscribed mode, or under RESP3) or a MONITOR
		// line.
		text := frame[1 : len(frame)-2]
		if string(text) == "PONG" {
			// Give what RESP2's ["pong", ""] gives: an empty argument.
			v, err := decodeReply(&Reader{secret: secret}, emptyBulkFrame, d)
			return Message{Kind: "pong", Data: v}, err
		}
		return Message{Kind: "monitor", Data: string(text)}, nil
	case KindBulk, KindVerbatim:
		// PING with an argument, outside subscribed mode or under RESP3.
		v, err := decodeReply(&Reader{secret: secret}, frame, d)
		return Message{Kind: "pong", Data: v}, err
	case KindArray, KindPush:
		return decodePush(frame, d, secret)
	}
	v, err := decodeReply(&Reader{secret: secret}, frame, d)
	return Message{Kind: "reply", Data: v}, err
}

// decodePush decodes a push: an array (RESP2) or push (RESP3) whose first
// element names its kind.
func decodePush(frame []byte, d Decoder, secret string) (Message, error) {
	r := Reader{buf: frame, secret: secret}
	t, err := r.Next()
	if err != nil {
		return Message{}, err
	}
	var kt Token
	if t.Kind != KindNull && t.Len > 0 {
		if kt, err = r.Next(); err != nil {
			return Message{}, err
		}
	}
	if kt.Kind != KindBulk && kt.Kind != KindSimple {
		v, err := decodeReply(&Reader{secret: secret}, frame, d)
		return Message{Kind: "reply", Data: v}, err
	}
	m := Message{Kind: pushKindName(kt.Data)}
	n := t.Len - 1 // elements after the kind
	switch {
	case n == 2 && (m.Kind == "message" || m.Kind == "smessage" || strings.HasSuffix(m.Kind, "subscribe")):
		if m.Channel, err = textElem(&r); err != nil {
			return Message{}, err
		}
		if m.Data, err = decodeWith(d, &r); err != nil {
			return Message{}, err
		}
		if m.Kind == "message" && m.Channel == trackingChannel {
			m.Kind = "invalidate"
		}
		return m, nil
	case n == 3 && m.Kind == "pmessage":
		if m.Pattern, err = textElem(&r); err != nil {
			return Message{}, err
		}
		if m.Channel, err = textElem(&r); err != nil {
			return Message{}, err
		}
		if m.Data, err = decodeWith(d, &r); err != nil {
			return Message{}, err
		}
		return m, nil
	case n == 1:
		// "pong" (PING while subscribed, RESP2), "invalidate" (RESP3), ...
		if m.Data, err = decodeWith(d, &r); err != nil {
			return Message{}, err
		}
		return m, nil
	}
	rest := make([]any, n)
	for i := range rest {
		if rest[i], err = decodeWith(d, &r); err != nil {
			return Message{}, err
		}
	}
	m.Data = rest
	return m, nil
}

// pushKindName returns a push's kind as a string, without allocating for
// the known ones.
func pushKindName(b []byte) string {
	switch string(b) {
	case "message":
		return "message"
	case "pmessage":
		return "pmessage"
	case "smessage":
		return "smessage"
	case "subscribe":
		return "subscribe"
	case "psubscribe":
		return "psubscribe"
	case "ssubscribe":
		return "ssubscribe"
	case "unsubscribe":
		return "unsubscribe"
	case "punsubscribe":
		return "punsubscribe"
	case "sunsubscribe":
		return "sunsubscribe"
	case "pong":
		return "pong"
	case "invalidate":
		return "invalidate"
	}
	return strings.ToLower(string(b))
}

// textElem reads a channel or pattern name: a string, or "" for a null.
func textElem(r *Reader) (string, error) {
	t, err := r.Next()
	if err != nil {
		return "", err
	}
	switch t.Kind {
	case KindArray, KindSet, KindPush, KindMap, KindAttribute:
		return "", &protocolError{fmt.Sprintf("channel name is a %v", t.Kind)}
	}
	return string(t.Data), nil
}
