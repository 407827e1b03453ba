package email

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"math/big"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/firebreak-dev/firebreak/internal/notify"
)

// mailpit is one Mailpit process started for a test.
type mailpit struct {
	smtp string // host:port
	api  string // http://host:port
	// roots trusts the self-signed certificate when STARTTLS is on.
	roots *x509.CertPool
}

// startMailpit runs the binary named by $E2E_MAILPIT (scripts/mailpit
// builds it) on free loopback ports with a temporary database. With tls
// it offers STARTTLS with a fresh self-signed certificate and refuses
// mail from clients that do not upgrade. Extra flags follow.
func startMailpit(t *testing.T, withTLS bool, extra ...string) *mailpit {
	t.Helper()
	bin := os.Getenv("E2E_MAILPIT")
	if bin == "" {
		if os.Getenv("CI") == "true" {
			t.Fatal("E2E_MAILPIT is not set; run scripts/test or E2E_MAILPIT=$(scripts/mailpit) go test")
		}
		t.Skip("E2E_MAILPIT is not set (E2E_MAILPIT=$(scripts/mailpit) go test ./internal/notify/email/ runs it)")
	}
	if _, err := os.Stat(bin); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("E2E_MAILPIT: %v", err)
		}
		t.Skipf("E2E_MAILPIT: %v", err)
	}
	dir := t.TempDir()
	mp := &mailpit{smtp: freeAddr(t)}
	httpAddr := freeAddr(t)
	mp.api = "http://" + httpAddr
	args := []string{
		"--smtp", mp.smtp, "--listen", httpAddr,
		"--database", filepath.Join(dir, "mailpit.db"),
		"--disable-version-check", "--quiet",
	}
	if withTLS {
		cert, key, pool := selfSigned(t, dir)
		mp.roots = pool
		args = append(args, "--smtp-tls-cert", cert, "--smtp-tls-key", key, "--smtp-require-starttls")
	}
	args = append(args, extra...)
	ctx, cancel := context.WithCancel(context.Background())
	cmd := exec.CommandContext(ctx, bin, args...)
	var out strings.Builder
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		cancel()
		t.Fatalf("start mailpit: %v", err)
	}
	done := make(chan struct{})
	go func() { cmd.Wait(); close(done) }()
	t.Cleanup(func() {
		cancel()
		<-done
		if t.Failed() {
			t.Logf("mailpit output:\n%s", out.String())
		}
	})
	deadline := time.Now().Add(20 * time.Second)
	for {
		resp, err := http.Get(mp.api + "/readyz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				break
			}
		}
		select {
		case <-done:
			t.Fatalf("mailpit exited: %s", out.String())
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("mailpit not ready: %v\n%s", err, out.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
	return mp
}

func freeAddr(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

// selfSigned writes a certificate for 127.0.0.1 and its key into dir.
func selfSigned(t *testing.T, dir string) (certFile, keyFile string, pool *x509.CertPool) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1),
		Subject:      pkix.Name{CommonName: "firebreak-test-smtp"},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(time.Hour),
		IPAddresses:  []net.IP{net.ParseIP("127.0.0.1")},
		DNSNames:     []string{"localhost"},
		KeyUsage:     x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		IsCA:         true, BasicConstraintsValid: true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	kder, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	certFile, keyFile = filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	if err := os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kder}), 0o600); err != nil {
		t.Fatal(err)
	}
	cert, _ := x509.ParseCertificate(der)
	pool = x509.NewCertPool()
	pool.AddCert(cert)
	return certFile, keyFile, pool
}

// Mailpit API shapes (api/v1), only the fields checked.
type (
	mpAddress struct{ Name, Address string }
	mpSummary struct {
		ID      string
		Subject string
	}
	mpList struct {
		Total    int         `json:"total"`
		Messages []mpSummary `json:"messages"`
	}
	mpMessage struct {
		ID, MessageID, Subject, Text, HTML string
		From                               mpAddress
		To                                 []mpAddress
	}
)

func (mp *mailpit) get(t *testing.T, path string, v any) {
	t.Helper()
	resp, err := http.Get(mp.api + path)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: %s: %s", path, resp.Status, body)
	}
	if s, ok := v.(*string); ok {
		*s = string(body)
		return
	}
	if err := json.Unmarshal(body, v); err != nil {
		t.Fatalf("GET %s: %v: %s", path, err, body)
	}
}

var (
	linkSecret = []byte("ack-link-secret")
	sendNow    = time.Date(2026, 3, 14, 9, 26, 53, 0, time.UTC)
)

func alertMessage(ackURL string) notify.Message {
	return notify.Message{
		Event: notify.EventOpened,
		Incident: notify.Incident{
			ID: 42, Title: "HighQueueDepth", Severity: "critical", Status: "open",
			Service: "telegram-platform", URL: "https://firebreak.example/incidents/42",
			StartedAt: time.Date(2026, 3, 14, 9, 20, 0, 0, time.UTC),
		},
		Level:          1,
		Title:          "HighQueueDepth on telegram-platform",
		Text:           "Queue depth <script>alert(1)</script> & rising\n- Severity: CRITICAL",
		IdempotencyKey: "inc-42-opened-l1",
		AckURL:         ackURL,
	}
}

func TestMailpitSTARTTLS(t *testing.T) {
	t.Parallel()
	mp := startMailpit(t, true)
	n, err := New(Config{
		SMTP: mp.smtp, From: "Firebreak <firebreak@example.test>",
		To:        []string{"oncall@example.test", "Lead <lead@example.test>"},
		StartTLS:  TLSMandatory,
		TLSConfig: &tls.Config{RootCAs: mp.roots},
		Now:       func() time.Time { return sendNow },
	})
	if err != nil {
		t.Fatal(err)
	}
	ack := SignLink("https://firebreak.example/ack", linkSecret, 42, "ack", "oncall@example.test", time.Now().Add(time.Hour))
	res, err := n.Notify(context.Background(), alertMessage(ack))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(res.Ref, "firebreak.42.") || !strings.HasSuffix(res.Ref, "@example.test") {
		t.Errorf("Ref = %q, want the Message-ID", res.Ref)
	}

	var list mpList
	mp.get(t, "/api/v1/messages", &list)
	if list.Total != 1 || len(list.Messages) != 1 {
		t.Fatalf("mailbox has %d messages, want 1", list.Total)
	}
	var got mpMessage
	mp.get(t, "/api/v1/message/"+list.Messages[0].ID, &got)
	got.Text = strings.ReplaceAll(got.Text, "\r\n", "\n")

	if got.From != (mpAddress{"Firebreak", "firebreak@example.test"}) {
		t.Errorf("From = %+v", got.From)
	}
	if len(got.To) != 2 || got.To[0].Address != "oncall@example.test" || got.To[1] != (mpAddress{"Lead", "lead@example.test"}) {
		t.Errorf("To = %+v", got.To)
	}
	if want := "[CRITICAL] HighQueueDepth on telegram-platform (#42)"; got.Subject != want {
		t.Errorf("Subject = %q, want %q", got.Subject, want)
	}
	if got.MessageID != res.Ref {
		t.Errorf("Message-ID = %q, want %q", got.MessageID, res.Ref)
	}
	// Plain part: the text as written.
	for _, want := range []string{
		"Queue depth <script>alert(1)</script> & rising\n- Severity: CRITICAL",
		"Open the incident: https://firebreak.example/incidents/42",
		"Acknowledge: " + ack,
	} {
		if !strings.Contains(got.Text, want) {
			t.Errorf("text part lacks %q:\n%s", want, got.Text)
		}
	}
	// HTML part: the text escaped, never markup.
	if strings.Contains(got.HTML, "<script>") {
		t.Errorf("HTML part carries the alert's markup:\n%s", got.HTML)
	}
	if !strings.Contains(got.HTML, "Queue depth &lt;script&gt;alert(1)&lt;/script&gt; &amp; rising") {
		t.Errorf("HTML part lacks the escaped text:\n%s", got.HTML)
	}
	// Both parts' Acknowledge links verify.
	m := regexp.MustCompile(`<a href="([^"]+)"[^>]*>Acknowledge</a>`).FindStringSubmatch(got.HTML)
	if m == nil {
		t.Fatalf("no Acknowledge link in HTML:\n%s", got.HTML)
	}
	htmlLink := strings.ReplaceAll(m[1], "&amp;", "&")
	textLink := regexp.MustCompile(`Acknowledge: (\S+)`).FindStringSubmatch(got.Text)
	for part, link := range map[string]string{"html": htmlLink, "text": textLink[1]} {
		u, err := url.Parse(link)
		if err != nil {
			t.Fatalf("%s link: %v", part, err)
		}
		id, action, user, err := VerifyLink(u, linkSecret, time.Now())
		if err != nil || id != 42 || action != "ack" || user != "oncall@example.test" {
			t.Errorf("%s link %s: %d %q %q %v", part, link, id, action, user, err)
		}
	}

	// The raw mail is multipart/alternative with both parts.
	var raw string
	mp.get(t, "/api/v1/message/"+list.Messages[0].ID+"/raw", &raw)
	for _, want := range []string{"multipart/alternative", "text/plain", "text/html", "Auto-Submitted: auto-generated"} {
		if !strings.Contains(raw, want) {
			t.Errorf("raw message lacks %q", want)
		}
	}
}

// A server without STARTTLS: mandatory refuses to send in clear text,
// opportunistic sends.
func TestMailpitWithoutTLS(t *testing.T) {
	t.Parallel()
	mp := startMailpit(t, false)
	cfg := Config{SMTP: mp.smtp, From: "firebreak@example.test", To: []string{"oncall@example.test"}}

	n, err := New(cfg) // mandatory by default
	if err != nil {
		t.Fatal(err)
	}
	_, err = n.Notify(context.Background(), alertMessage(""))
	if err == nil || !strings.Contains(err.Error(), "STARTTLS") {
		t.Fatalf("mandatory STARTTLS against a plain server: err = %v", err)
	}

	cfg.StartTLS = TLSOpportunistic
	n, err = New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	m := alertMessage("")
	m.Event, m.Ref = notify.EventResolved, "firebreak.42.earlier@example.test"
	if _, err := n.Notify(context.Background(), m); err != nil {
		t.Fatal(err)
	}
	var list mpList
	mp.get(t, "/api/v1/messages", &list)
	if list.Total != 1 {
		t.Fatalf("mailbox has %d messages, want 1", list.Total)
	}
	var got mpMessage
	mp.get(t, "/api/v1/message/"+list.Messages[0].ID, &got)
	if want := "[RESOLVED] HighQueueDepth on telegram-platform (#42)"; got.Subject != want {
		t.Errorf("Subject = %q, want %q", got.Subject, want)
	}
	if strings.Contains(got.Text, "Acknowledge") || strings.Contains(got.HTML, "Acknowledge") {
		t.Error("Acknowledge link without an AckURL")
	}
	var headers map[string][]string
	mp.get(t, "/api/v1/message/"+list.Messages[0].ID+"/headers", &headers)
	if h := headers["In-Reply-To"]; len(h) != 1 || h[0] != "<firebreak.42.earlier@example.test>" {
		t.Errorf("In-Reply-To = %q", h)
	}
}

// A recipient the server refuses with 5xx is a permanent failure.
func TestMailpitRejectedRecipient(t *testing.T) {
	t.Parallel()
	mp := startMailpit(t, true, "--smtp-allowed-recipients", `@allowed\.test$`)
	n, err := New(Config{
		SMTP: mp.smtp, From: "firebreak@example.test", To: []string{"nobody@refused.test"},
		TLSConfig: &tls.Config{RootCAs: mp.roots},
	})
	if err != nil {
		t.Fatal(err)
	}
	_, err = n.Notify(context.Background(), alertMessage(""))
	if err == nil {
		t.Fatal("want an error")
	}
	var ne *notify.Error
	if !errors.As(err, &ne) {
		t.Fatalf("err = %T %v, want *notify.Error", err, err)
	}
	if retry, _ := notify.Retryable(err); retry {
		t.Errorf("a rejected recipient was marked retryable: %v", err)
	}
	t.Logf("rejected: %v", err)
}

// The STARTTLS handshake really happens: a client that does not trust the
// server's certificate cannot send, even when TLS is only opportunistic.
func TestMailpitSTARTTLSVerifiesCertificate(t *testing.T) {
	t.Parallel()
	mp := startMailpit(t, true)
	n, err := New(Config{
		SMTP: mp.smtp, From: "firebreak@example.test", To: []string{"oncall@example.test"},
		StartTLS: TLSOpportunistic, // system roots: the self-signed certificate is not trusted
	})
	if err != nil {
		t.Fatal(err)
	}
	_, err = n.Notify(context.Background(), alertMessage(""))
	if err == nil || !strings.Contains(err.Error(), "certificate") {
		t.Fatalf("err = %v, want a certificate error", err)
	}
	var list mpList
	mp.get(t, "/api/v1/messages", &list)
	if list.Total != 0 {
		t.Errorf("mailbox has %d messages, want none", list.Total)
	}
}

// An unreachable server is worth retrying, and the password never shows.
func TestUnreachableServer(t *testing.T) {
	t.Parallel()
	n, err := New(Config{
		SMTP: freeAddr(t), From: "firebreak@example.test", To: []string{"oncall@example.test"},
		Username: "firebreak", Password: "hunter2-smtp-password", Timeout: 2 * time.Second,
	})
	if err != nil {
		t.Fatal(err)
	}
	_, err = n.Notify(context.Background(), alertMessage(""))
	if retry, _ := notify.Retryable(err); err == nil || !retry {
		t.Fatalf("err = %v, want retryable", err)
	}
	if strings.Contains(fmt.Sprint(err), "hunter2") {
		t.Errorf("error leaks the password: %v", err)
	}
}
