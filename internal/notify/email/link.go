package email

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"net/url"
	"strconv"
	"time"
)

// Errors VerifyLink returns. They are distinct so a handler can tell a
// person whose link ran out ("ask for a new one") from a forged link.
var (
	ErrLinkTampered = errors.New("link is not valid: missing parameters or wrong signature")
	ErrLinkExpired  = errors.New("link has expired")
)

// Query parameters of a signed link.
const (
	paramIncident = "incident"
	paramAction   = "action"
	paramUser     = "user"
	paramExpires  = "expires"
	paramSig      = "sig"
)

// SignLink returns base with the incident, action (ack, resolve, …), user
// and expiry added as query parameters and signed with HMAC-SHA256 under
// secret, for media without buttons. Other query parameters of base are
// kept but not signed. It returns "" when base is not a URL.
func SignLink(base string, secret []byte, incidentID int64, action, user string, expires time.Time) string {
	u, err := url.Parse(base)
	if err != nil {
		return ""
	}
	q := u.Query()
	exp := strconv.FormatInt(expires.Unix(), 10)
	id := strconv.FormatInt(incidentID, 10)
	q.Set(paramIncident, id)
	q.Set(paramAction, action)
	q.Set(paramUser, user)
	q.Set(paramExpires, exp)
	q.Set(paramSig, hex.EncodeToString(linkMAC(secret, id, action, user, exp)))
	u.RawQuery = q.Encode()
	return u.String()
}

// VerifyLink checks a link made by SignLink as of now and returns what it
// grants. A changed or missing parameter or a wrong secret gives
// ErrLinkTampered; a genuine link past its expiry gives ErrLinkExpired.
func VerifyLink(u *url.URL, secret []byte, now time.Time) (incidentID int64, action, user string, err error) {
	if u == nil || len(secret) == 0 {
		return 0, "", "", ErrLinkTampered
	}
	q := u.Query()
	for _, p := range []string{paramIncident, paramAction, paramUser, paramExpires, paramSig} {
		if len(q[p]) != 1 {
			return 0, "", "", ErrLinkTampered
		}
	}
	id, action, user, exp := q.Get(paramIncident), q.Get(paramAction), q.Get(paramUser), q.Get(paramExpires)
	sig, err := hex.DecodeString(q.Get(paramSig))
	if err != nil || !hmac.Equal(sig, linkMAC(secret, id, action, user, exp)) {
		return 0, "", "", ErrLinkTampered
	}
	// Signed, so these parse unless the signer was given nonsense.
	incidentID, err1 := strconv.ParseInt(id, 10, 64)
	expUnix, err2 := strconv.ParseInt(exp, 10, 64)
	if err1 != nil || err2 != nil {
		return 0, "", "", ErrLinkTampered
	}
	if !now.Before(time.Unix(expUnix, 0)) {
		return 0, "", "", fmt.Errorf("%w at %s", ErrLinkExpired, time.Unix(expUnix, 0).UTC().Format(time.RFC3339))
	}
	return incidentID, action, user, nil
}

// linkMAC signs the parameters length-prefixed, so no two different
// parameter sets share an input ("a"+"bc" vs "ab"+"c").
func linkMAC(secret []byte, fields ...string) []byte {
	mac := hmac.New(sha256.New, secret)
	mac.Write([]byte("firebreak-link-v1"))
	for _, f := range fields {
		fmt.Fprintf(mac, "\n%d:%s", len(f), f)
	}
	return mac.Sum(nil)
}
