package httpapi

import (
	_ "embed"
	"net/http"

	"github.com/firebreak-dev/firebreak/internal/auth"
)

//go:embed openapi.json
var openapiJSON []byte

func (s *Server) openapi(w http.ResponseWriter, r *http.Request, _ *auth.Principal) error {
	w.Header().Set("Content-Type", "application/json")
	w.Write(openapiJSON)
	return nil
}
