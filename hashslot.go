package justredis

// numSlots is how many hash slots Redis Cluster divides the keys into.
const numSlots = 16384

// hashSlot is the cluster slot of key, computed as Redis does: CRC16 of the
// key's hash tag, or of the whole key when it has none, modulo 16384. The
// hash tag is what lies between the first "{" and the first "}" after it,
// when that is not empty, so "{user1000}.following" and
// "{user1000}.followers" share a slot while "{}x" hashes whole.
func hashSlot[T string | []byte](key T) int {
	for i := 0; i < len(key); i++ {
		if key[i] != '{' {
			continue
		}
		for j := i + 1; j < len(key); j++ {
			if key[j] == '}' {
				if j > i+1 {
					key = key[i+1 : j]
				}
				break
			}
		}
		break
	}
	return int(crc16(key) % numSlots)
}

// crc16 is CRC-16/XMODEM (polynomial 0x1021, initial value 0, no
// reflection), the checksum Redis Cluster hashes keys with.
func crc16[T string | []byte](data T) uint16 {
	var crc uint16
	for i := 0; i < len(data); i++ {
		crc = crc<<8 ^ xmodemTable[byte(crc>>8)^data[i]]
	}
	return crc
}

// xmodemTable holds the CRC of every byte value, so crc16 handles a byte per
// step instead of a bit.
var xmodemTable = makeXmodemTable()

func makeXmodemTable() (t [256]uint16) {
	for i := range t {
		c := uint16(i) << 8
		for range 8 {
			if c&0x8000 != 0 {
				c = c<<1 ^ 0x1021
			} else {
				c <<= 1
			}
		}
		t[i] = c
	}
	return t
}
