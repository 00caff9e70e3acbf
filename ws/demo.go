package ws

import (
	"embed"
	"io/fs"
	"net/http"
)

// demoFiles is the demo page (ws/demo), served on GET /.
//
//go:embed demo
var demoFiles embed.FS

func demoHandler() http.Handler {
	sub, err := fs.Sub(demoFiles, "demo")
	if err != nil {
		panic(err) // the embedded tree always has demo/
	}
	files := http.FileServerFS(sub)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
			return
		}
		w.Header().Set("X-Content-Type-Options", "nosniff")
		files.ServeHTTP(w, r)
	})
}
