package bfd

import (
	"crypto/md5"
	"crypto/sha1"
	"crypto/subtle"
	"encoding/binary"
	"errors"
	"fmt"
	"hash"
	"strconv"
)

// AuthType is the Auth Type field of the authentication section.
type AuthType uint8

// The authentication types of RFC 5880 §4.2.
const (
	AuthNone                 AuthType = 0
	AuthSimplePassword       AuthType = 1
	AuthKeyedMD5             AuthType = 2
	AuthMeticulousKeyedMD5   AuthType = 3
	AuthKeyedSHA1            AuthType = 4
	AuthMeticulousKeyedSHA1  AuthType = 5
	maxPasswordLen                    = 16
	md5AuthLen                        = 24
	sha1AuthLen                       = 28
	authHeaderLen                     = 3 // type, length, key ID
	digestOffset                      = 8 // in the MD5/SHA1 sections
	simplePasswordMinAuthLen          = authHeaderLen + 1
)

// String is the type's name in RFC 5880's words.
func (t AuthType) String() string {
	switch t {
	case AuthNone:
		return "none"
	case AuthSimplePassword:
		return "simple-password"
	case AuthKeyedMD5:
		return "keyed-md5"
	case AuthMeticulousKeyedMD5:
		return "meticulous-keyed-md5"
	case AuthKeyedSHA1:
		return "keyed-sha1"
	case AuthMeticulousKeyedSHA1:
		return "meticulous-keyed-sha1"
	}
	return "auth(" + strconv.Itoa(int(t)) + ")"
}

// Meticulous reports whether the sequence number must grow with every
// packet.
func (t AuthType) Meticulous() bool {
	return t == AuthMeticulousKeyedMD5 || t == AuthMeticulousKeyedSHA1
}

// digestLen is the digest length of a keyed type, 0 for others.
func (t AuthType) digestLen() int {
	switch t {
	case AuthKeyedMD5, AuthMeticulousKeyedMD5:
		return md5.Size
	case AuthKeyedSHA1, AuthMeticulousKeyedSHA1:
		return sha1.Size
	}
	return 0
}

func (t AuthType) hash() hash.Hash {
	if t.digestLen() == md5.Size {
		return md5.New()
	}
	return sha1.New()
}

// Authentication errors.
var (
	ErrAuthMissing    = errors.New("authentication expected but absent")
	ErrAuthUnexpected = errors.New("authentication present but not configured")
	ErrAuthMismatch   = errors.New("authentication failed")
	ErrAuthSeq        = errors.New("authentication sequence number out of window")
)

// Auth is a control packet's authentication section.
type Auth struct {
	Type  AuthType
	KeyID uint8
	// Password is a simple password (1-16 bytes).
	Password []byte
	// Seq and Digest belong to the keyed types; Digest is 16 (MD5) or 20
	// (SHA1) bytes, zeros until Sign.
	Seq    uint32
	Digest []byte
	// Reserved is the keyed sections' reserved byte: 0 when sent,
	// ignored when received (kept so that a packet re-encodes as is).
	Reserved uint8
}

// Len is the section's length (its Auth Len field).
func (a *Auth) Len() int {
	if a.Type == AuthSimplePassword {
		return authHeaderLen + len(a.Password)
	}
	if n := a.Type.digestLen(); n > 0 {
		return digestOffset + n
	}
	return authHeaderLen
}

func (a *Auth) appendTo(b []byte) ([]byte, error) {
	switch {
	case a.Type == AuthSimplePassword:
		if len(a.Password) == 0 || len(a.Password) > maxPasswordLen {
			return b, fmt.Errorf("%w: password of %d bytes", ErrAuthLen, len(a.Password))
		}
		b = append(b, byte(a.Type), byte(a.Len()), a.KeyID)
		return append(b, a.Password...), nil
	case a.Type.digestLen() > 0:
		n := a.Type.digestLen()
		if len(a.Digest) != 0 && len(a.Digest) != n {
			return b, fmt.Errorf("%w: digest of %d bytes for %s", ErrAuthLen, len(a.Digest), a.Type)
		}
		b = append(b, byte(a.Type), byte(a.Len()), a.KeyID, a.Reserved)
		b = binary.BigEndian.AppendUint32(b, a.Seq)
		if len(a.Digest) == 0 {
			return append(b, make([]byte, n)...), nil
		}
		return append(b, a.Digest...), nil
	}
	return b, fmt.Errorf("%w %d", ErrAuthType, a.Type)
}

// parseAuth decodes the section b (the bytes after the mandatory section,
// up to the packet's Length).
func parseAuth(b []byte) (*Auth, error) {
	if len(b) < 2 || int(b[1]) != len(b) {
		return nil, fmt.Errorf("%w: %d bytes", ErrAuthLen, len(b))
	}
	a := &Auth{Type: AuthType(b[0])}
	switch {
	case a.Type == AuthSimplePassword:
		if len(b) < simplePasswordMinAuthLen || len(b) > authHeaderLen+maxPasswordLen {
			return nil, fmt.Errorf("%w: simple password section of %d bytes", ErrAuthLen, len(b))
		}
		a.KeyID = b[2]
		a.Password = append([]byte(nil), b[3:]...)
	case a.Type.digestLen() > 0:
		if len(b) != digestOffset+a.Type.digestLen() {
			return nil, fmt.Errorf("%w: %s section of %d bytes", ErrAuthLen, a.Type, len(b))
		}
		a.KeyID, a.Reserved = b[2], b[3]
		a.Seq = binary.BigEndian.Uint32(b[4:])
		a.Digest = append([]byte(nil), b[digestOffset:]...)
	default:
		return nil, fmt.Errorf("%w %d", ErrAuthType, a.Type)
	}
	return a, nil
}

// Key is one configured authentication key.
type Key struct {
	Type   AuthType
	ID     uint8
	Secret []byte // the password, or the MD5/SHA1 key
}

// Sign fills in the digest of the encoded packet b (from Marshal, with a
// keyed auth section) in place: the digest of the packet with the key,
// padded with zeros, in the digest field (RFC 5880 §6.7.3, §6.7.4).
// Other types need no signing.
func Sign(b []byte, k Key) error {
	n := k.Type.digestLen()
	if n == 0 {
		return nil
	}
	if len(b) < HeaderLen+digestOffset+n || int(b[3]) != HeaderLen+digestOffset+n {
		return fmt.Errorf("bfd: sign: %w", ErrAuthLen)
	}
	field := b[HeaderLen+digestOffset : HeaderLen+digestOffset+n]
	clear(field)
	copy(field, k.Secret)
	h := k.Type.hash()
	h.Write(b[:HeaderLen+digestOffset+n])
	copy(field, h.Sum(nil))
	return nil
}

// Verify checks a received packet's authentication against the key: the
// same type and key ID, the password, or the digest over the packet's
// bytes b as received. Sequence numbers are the session's to check.
func Verify(b []byte, p *Packet, k *Key) error {
	switch {
	case k == nil && p.Auth == nil:
		return nil
	case k == nil:
		return ErrAuthUnexpected
	case p.Auth == nil:
		return ErrAuthMissing
	case p.Auth.Type != k.Type || p.Auth.KeyID != k.ID:
		return fmt.Errorf("%w: %s key %d, want %s key %d", ErrAuthMismatch, p.Auth.Type, p.Auth.KeyID, k.Type, k.ID)
	case k.Type == AuthSimplePassword:
		if subtle.ConstantTimeCompare(p.Auth.Password, k.Secret) != 1 {
			return fmt.Errorf("%w: wrong password", ErrAuthMismatch)
		}
		return nil
	}
	n := k.Type.digestLen()
	end := HeaderLen + digestOffset + n
	if len(b) < end {
		return fmt.Errorf("%w: short", ErrAuthMismatch)
	}
	c := append([]byte(nil), b[:end]...)
	if err := Sign(c, *k); err != nil {
		return fmt.Errorf("%w: %v", ErrAuthMismatch, err)
	}
	if subtle.ConstantTimeCompare(c[HeaderLen+digestOffset:end], b[HeaderLen+digestOffset:end]) != 1 {
		return fmt.Errorf("%w: digest", ErrAuthMismatch)
	}
	return nil
}
