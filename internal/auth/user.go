package auth

import (
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"strings"
	"time"

	"golang.org/x/crypto/argon2"

	"github.com/firebreak-dev/firebreak/internal/incident"
	"github.com/firebreak-dev/firebreak/internal/oncall"
)

// UserSource says where a user is defined. A user from the configuration
// keeps its contact methods there; the database holds its role, password
// and chat links beside them.
type UserSource string

const (
	UserFromConfig UserSource = "config"
	UserFromCLI    UserSource = "cli"
)

// User is a person who signs in to the console, is paged, and acts from
// chat. Contact is how they are reached and which chat accounts are theirs
// (a Telegram button pressed by TelegramChatID acts as this user).
type User struct {
	ID      int64       `json:"id"`
	Contact oncall.User `json:"contact"`
	Role    Role        `json:"role"`
	// PasswordHash is an argon2id PHC string, or empty: no password login.
	PasswordHash string     `json:"-"`
	Source       UserSource `json:"source"`
	CreatedAt    time.Time  `json:"created_at"`
	UpdatedAt    time.Time  `json:"updated_at"`
	CreatedBy    string     `json:"created_by,omitempty"`
}

// Name is the user's handle.
func (u *User) Name() string { return u.Contact.Name }

// HasPassword reports whether the user may sign in with a password.
func (u *User) HasPassword() bool { return u.PasswordHash != "" }

// argon2id parameters: RFC 9106's second recommended option (64 MiB, three
// passes), with one lane per core we are likely to have.
const (
	argonTime    = 3
	argonMemory  = 64 * 1024
	argonThreads = 2
	argonKeyLen  = 32
	saltLen      = 16
)

// MinPassword is the shortest password accepted.
const MinPassword = 12

// HashPassword returns the argon2id PHC string of password.
func HashPassword(password string) (string, error) {
	if len(password) < MinPassword {
		return "", incident.Errorf(incident.EINVALID, "password: must be at least %d characters", MinPassword)
	}
	if len(password) > 1024 {
		return "", incident.Errorf(incident.EINVALID, "password: must be at most 1024 bytes")
	}
	salt := make([]byte, saltLen)
	if _, err := rand.Read(salt); err != nil {
		return "", err
	}
	key := argon2.IDKey([]byte(password), salt, argonTime, argonMemory, argonThreads, argonKeyLen)
	b64 := base64.RawStdEncoding
	return fmt.Sprintf("$argon2id$v=%d$m=%d,t=%d,p=%d$%s$%s", argon2.Version, argonMemory, argonTime, argonThreads,
		b64.EncodeToString(salt), b64.EncodeToString(key)), nil
}

// ErrBadPassword is a password that does not match.
var ErrBadPassword = errors.New("wrong user name or password")

// VerifyPassword checks password against a PHC string made by
// HashPassword, in constant time.
func VerifyPassword(phc, password string) error {
	parts := strings.Split(phc, "$")
	if len(parts) != 6 || parts[1] != "argon2id" {
		return ErrBadPassword
	}
	var version int
	var m uint32
	var t uint32
	var p uint8
	if _, err := fmt.Sscanf(parts[2], "v=%d", &version); err != nil || version != argon2.Version {
		return ErrBadPassword
	}
	if _, err := fmt.Sscanf(parts[3], "m=%d,t=%d,p=%d", &m, &t, &p); err != nil || m == 0 || m > 1<<20 || t == 0 || t > 16 || p == 0 {
		return ErrBadPassword
	}
	b64 := base64.RawStdEncoding
	salt, err1 := b64.DecodeString(parts[4])
	want, err2 := b64.DecodeString(parts[5])
	if err1 != nil || err2 != nil || len(want) == 0 || len(want) > 64 {
		return ErrBadPassword
	}
	got := argon2.IDKey([]byte(password), salt, t, m, p, uint32(len(want)))
	if subtle.ConstantTimeCompare(got, want) != 1 {
		return ErrBadPassword
	}
	return nil
}

// Session is a signed-in console session. Its secret is the cookie's
// value; only the SHA-256 digest is stored, as for tokens.
type Session struct {
	ID        int64     `json:"id"`
	Hash      []byte    `json:"-"`
	User      string    `json:"user"`
	Role      Role      `json:"role"`
	CreatedAt time.Time `json:"created_at"`
	ExpiresAt time.Time `json:"expires_at"`
	// Via says how the session was opened: "password" or "token".
	Via string `json:"via"`
}

// SessionPrefix starts every session secret.
const SessionPrefix = "fbs_"

// NewSessionSecret returns a session's secret and the digest to store.
func NewSessionSecret() (secret string, hash []byte) { return NewSecret(SessionPrefix) }
