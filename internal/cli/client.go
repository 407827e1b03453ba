package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// client talks to a Firebreak server's API.
type client struct {
	base  string
	token string
	http  *http.Client
}

// newClient reads FIREBREAK_URL and FIREBREAK_TOKEN. Without a token it
// falls back to the bootstrap admin token that a local `firebreak serve`
// wrote, so the CLI works out of the box next to a fresh server.
func newClient(env *Env, url, token string) (*client, error) {
	if url == "" {
		url = env.Getenv("FIREBREAK_URL")
	}
	if url == "" {
		url = "http://127.0.0.1:8080"
	}
	if token == "" {
		token = env.Getenv("FIREBREAK_TOKEN")
	}
	if token == "" {
		dir := env.Getenv("FIREBREAK_DATA_DIR")
		if dir == "" {
			dir = "firebreak-data"
		}
		if b, err := os.ReadFile(filepath.Join(dir, "admin-token")); err == nil {
			token = strings.TrimSpace(string(b))
		}
	}
	if token == "" {
		return nil, fmt.Errorf("no token: set FIREBREAK_TOKEN (or run next to a firebreak-data/ folder holding admin-token)")
	}
	return &client{base: strings.TrimRight(url, "/"), token: token, http: &http.Client{Timeout: 30 * time.Second}}, nil
}

// apiError is the server's error body.
type apiError struct {
	Status  int
	Code    string `json:"code"`
	Message string `json:"message"`
}

func (e *apiError) Error() string {
	hint := ""
	switch e.Status {
	case http.StatusUnauthorized:
		hint = " (check FIREBREAK_TOKEN)"
	case http.StatusForbidden:
		hint = " (this token's role does not allow it)"
	}
	return fmt.Sprintf("%s%s", e.Message, hint)
}

// do sends a request and decodes a JSON answer into out (when not nil).
func (c *client) do(ctx context.Context, method, path string, in, out any) error {
	var body io.Reader
	if in != nil {
		b, err := json.Marshal(in)
		if err != nil {
			return err
		}
		body = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, c.base+path, body)
	if err != nil {
		return err
	}
	req.Header.Set("Authorization", "Bearer "+c.token)
	if in != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return fmt.Errorf("cannot reach Firebreak at %s: %w (is `firebreak serve` running? set FIREBREAK_URL)", c.base, err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, 64<<20))
	if err != nil {
		return fmt.Errorf("read answer of %s %s: %w", method, path, err)
	}
	if resp.StatusCode >= 300 {
		var e struct {
			Error apiError `json:"error"`
		}
		if json.Unmarshal(data, &e) == nil && e.Error.Message != "" {
			e.Error.Status = resp.StatusCode
			return &e.Error
		}
		return fmt.Errorf("%s %s: %s: %s", method, path, resp.Status, strings.TrimSpace(string(data)))
	}
	if out != nil && len(data) > 0 {
		if raw, ok := out.(*json.RawMessage); ok {
			*raw = append((*raw)[:0], data...)
			return nil
		}
		if err := json.Unmarshal(data, out); err != nil {
			return fmt.Errorf("decode answer of %s %s: %w", method, path, err)
		}
	}
	return nil
}
