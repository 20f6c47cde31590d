package justredis

import (
	"bytes"
	"fmt"
	"math"
	"math/big"
	"strconv"
)

// The kinds RESP3 adds. The streamed forms ($?, *?, ~?, %?, >?) are read
// as their ordinary kinds.
const (
	KindNull      Kind = '_' // null, and RESP2's $-1 and *-1
	KindDouble    Kind = ',' // double, including inf, -inf and nan
	KindBool      Kind = '#' // boolean, #t or #f
	KindBigNumber Kind = '(' // big number
	KindBlobError Kind = '!' // error with a length prefix
	KindVerbatim  Kind = '=' // verbatim string: a 3-letter format, ':', the text
	KindMap       Kind = '%' // map; Len counts pairs
	KindSet       Kind = '~' // set
	KindAttribute Kind = '|' // attribute: a map describing the value that follows
	KindPush      Kind = '>' // out-of-band push (pub/sub, invalidations)

	kindChunk Kind = ';' // a chunk of a streamed string
	kindEnd   Kind = '.' // the end of a streamed aggregate
)

func (k Kind) String() string {
	switch k {
	case KindSimple:
		return "simple string"
	case KindError:
		return "error"
	case KindInt:
		return "integer"
	case KindBulk:
		return "bulk string"
	case KindArray:
		return "array"
	case KindNull:
		return "null"
	case KindDouble:
		return "double"
	case KindBool:
		return "boolean"
	case KindBigNumber:
		return "big number"
	case KindBlobError:
		return "blob error"
	case KindVerbatim:
		return "verbatim string"
	case KindMap:
		return "map"
	case KindSet:
		return "set"
	case KindAttribute:
		return "attribute"
	case KindPush:
		return "push"
	}
	return fmt.Sprintf("Kind(%q)", byte(k))
}

// parseDouble parses a RESP3 double, which spells infinities "inf" and
// "-inf" and may be "nan".
func parseDouble(b []byte) (float64, error) {
	switch string(b) {
	case "inf", "+inf":
		return math.Inf(1), nil
	case "-inf":
		return math.Inf(-1), nil
	case "nan", "-nan":
		return math.NaN(), nil
	}
	f, err := strconv.ParseFloat(string(b), 64)
	if err != nil {
		return 0, &protocolError{fmt.Sprintf("bad double %q", truncate(b))}
	}
	return f, nil
}

func parseBool(b []byte) (bool, error) {
	switch string(b) {
	case "t":
		return true, nil
	case "f":
		return false, nil
	}
	return false, &protocolError{fmt.Sprintf("bad boolean %q", truncate(b))}
}

// maxBigNumber bounds the digits of a big number: parsing takes time
// quadratic in its length, and no real reply comes near it.
const maxBigNumber = 1 << 14

func parseBigNumber(b []byte) (*big.Int, error) {
	if len(b) > maxBigNumber {
		return nil, &protocolError{fmt.Sprintf("big number of %d digits exceeds the limit of %d", len(b), maxBigNumber)}
	}
	n, ok := new(big.Int).SetString(string(b), 10)
	if !ok {
		return nil, &protocolError{fmt.Sprintf("bad big number %q", truncate(b))}
	}
	return n, nil
}

// verbatimText splits a verbatim string into its format ("txt", "mkd")
// and its text.
func verbatimText(b []byte) (format, text []byte, err error) {
	if len(b) < 4 || b[3] != ':' {
		return nil, nil, &protocolError{fmt.Sprintf("bad verbatim string %q", truncate(b))}
	}
	return b[:3], b[4:], nil
}

// joinChunks returns the content of a streamed string whose chunks start at
// buf[pos], and the position after its final ";0" chunk. The frame has been
// scanned already, so the chunks are known to be well formed.
func joinChunks(buf []byte, pos int) ([]byte, int) {
	var out bytes.Buffer
	for {
		line, next, _ := scanLine(buf, pos)
		n, _ := parseInt(line[1:])
		if n == 0 {
			return out.Bytes(), next
		}
		out.Write(buf[next : next+int(n)])
		pos = next + int(n) + 2
	}
}
