package justredis_test

import (
	"strings"
	"testing"

	"github.com/justredis/justredis"
	"github.com/justredis/justredis/redistest"
	"github.com/stretchr/testify/require"
)

// TestUsernameWithoutPassword: a user name with an empty password logs in
// as that user (a nopass user), under either protocol, from WithAuth and
// from a URL alike; calls never run as the default user instead.
func TestUsernameWithoutPassword(t *testing.T) {
	s := redistest.Start(t, redistest.Options{Users: []redistest.User{
		{Name: "reader", Rules: []string{"on", "nopass", "~*", "&*", "+@all"}},
	}})
	host := strings.TrimPrefix(s.URL(), "redis://")
	for _, resp := range []int{0, 2, 3} {
		clients := map[string]func() (*justredis.Redis, error){
			"WithAuth": func() (*justredis.Redis, error) {
				return justredis.New(justredis.WithAddress(s.Addr()), justredis.WithAuth("reader", ""), justredis.WithRESP(resp))
			},
			"user@": func() (*justredis.Redis, error) {
				return justredis.FromURL("redis://reader@"+host, justredis.WithRESP(resp))
			},
			"user:@": func() (*justredis.Redis, error) {
				return justredis.FromURL("redis://reader:@"+host, justredis.WithRESP(resp))
			},
		}
		for name, open := range clients {
			r, err := open()
			require.NoError(t, err)
			v, err := r.Do(testCtx(t), "ACL", "WHOAMI")
			r.Close()
			require.NoError(t, err, "%s, RESP %d", name, resp)
			require.Equal(t, "reader", v, "%s, RESP %d", name, resp)
		}
	}
}
