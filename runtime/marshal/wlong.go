package marshal

// Ruby's packed integer ("w_long"), used for Fixnum payloads and for every length, count and
// index in the stream:
//
//	0                 00
//	1..122            n+5
//	-123..-1          (n-5)&0xff
//	otherwise         a count byte 01..04 (positive) or ff..fc (negative), then that many
//	                  little-endian bytes of the two's complement value.

// minLong and maxLong bound what a w_long can carry when written; Ruby refuses to dump a
// longer one.
const (
	minLong = -1 << 31
	maxLong = 1<<31 - 1
)

// appendLong appends the w_long encoding of x, which must be in minLong..maxLong.
func appendLong(b []byte, x int64) []byte {
	switch {
	case x == 0:
		return append(b, 0)
	case 0 < x && x < 123:
		return append(b, byte(x+5))
	case -124 < x && x < 0:
		return append(b, byte((x-5)&0xff))
	}
	var buf [5]byte
	for i := 1; i < len(buf); i++ {
		buf[i] = byte(x)
		x >>= 8 // arithmetic shift keeps the sign
		if x == 0 {
			buf[0] = byte(i)
			return append(b, buf[:i+1]...)
		}
		if x == -1 {
			buf[0] = byte(-i)
			return append(b, buf[:i+1]...)
		}
	}
	// Unreachable for x in minLong..maxLong.
	panic("marshal: w_long out of range")
}

// readLong decodes a w_long starting at data[pos]. It returns the value and the number of
// bytes consumed, or ok=false when the input is truncated. Like Ruby, it accepts
// non-canonical forms (e.g. a count byte for a small value) and yields values in
// -2^32..2^32-1.
func readLong(data []byte, pos int) (x int64, n int, ok bool) {
	if pos >= len(data) {
		return 0, 0, false
	}
	c := int8(data[pos])
	switch {
	case c == 0:
		return 0, 1, true
	case c > 4:
		return int64(c) - 5, 1, true
	case c < -4:
		return int64(c) + 5, 1, true
	case c > 0:
		cnt := int(c)
		if pos+1+cnt > len(data) {
			return 0, 0, false
		}
		for i := 0; i < cnt; i++ {
			x |= int64(data[pos+1+i]) << (8 * i)
		}
		return x, 1 + cnt, true
	default:
		cnt := int(-c)
		if pos+1+cnt > len(data) {
			return 0, 0, false
		}
		x = -1
		for i := 0; i < cnt; i++ {
			x &^= 0xff << (8 * i)
			x |= int64(data[pos+1+i]) << (8 * i)
		}
		return x, 1 + cnt, true
	}
}
