package redistest

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// SentinelOptions describes a Sentinel deployment to start. The zero value
// is a master named "mymaster" with one replica and three sentinels.
type SentinelOptions struct {
	// MasterName is the name the sentinels monitor the master under;
	// "mymaster" when empty. It may not contain spaces, control characters
	// or quotes: Redis writes it unquoted into sentinel.conf.
	MasterName string

	// Replicas is the number of replicas of the master; 1 when zero, since
	// a deployment without a replica has nothing to fail over to.
	Replicas int

	// Sentinels is the number of sentinels; 3 when zero.
	Sentinels int

	// Quorum is how many sentinels must find the master unreachable before
	// one of them fails it over by itself; a majority of Sentinels when
	// zero. (Failover needs no quorum: it asks one sentinel to act alone.)
	Quorum int

	// DownAfter is how long an instance may go unanswered before a
	// sentinel considers it down (down-after-milliseconds); 2s when zero.
	// It sets how soon a killed master is replaced.
	DownAfter time.Duration

	// FailoverTimeout is the sentinels' failover-timeout; 5s when zero. A
	// sentinel that could not complete a failover, or voted for another
	// that did not, waits twice this long before trying again.
	FailoverTimeout time.Duration

	// Server configures the master and every replica: Password (given to
	// the sentinels too, as auth-pass), Users, UnixSocket, Args, and
	// Backend, which the sentinels also use. TLS is not supported. Passwords
	// follow MasterName's rule, for the same reason.
	Server Options

	// SentinelPassword is the sentinels' own password (requirepass, and
	// sentinel-pass so they can talk to one another). Do on a sentinel
	// authenticates with it.
	SentinelPassword string

	// SentinelUsers are ACL users created on every sentinel, for clients
	// that authenticate to sentinels with a username.
	SentinelUsers []User
}

// withDefaults fills in the zero values and rejects what a deployment
// cannot be built from, before anything is started.
func (o SentinelOptions) withDefaults() (SentinelOptions, error) {
	if o.MasterName == "" {
		o.MasterName = "mymaster"
	}
	if o.Replicas == 0 {
		o.Replicas = 1
	}
	if o.Sentinels == 0 {
		o.Sentinels = 3
	}
	if o.Quorum == 0 {
		o.Quorum = o.Sentinels/2 + 1
	}
	if o.DownAfter == 0 {
		o.DownAfter = 2 * time.Second
	}
	if o.FailoverTimeout == 0 {
		o.FailoverTimeout = 5 * time.Second
	}
	var errs []error
	bad := func(format string, args ...any) {
		errs = append(errs, fmt.Errorf("redistest: SentinelOptions."+format, args...))
	}
	if o.Replicas < 0 || o.Sentinels < 0 {
		bad("Replicas and Sentinels may not be negative, got %d and %d", o.Replicas, o.Sentinels)
	}
	if o.Quorum < 1 || o.Quorum > o.Sentinels {
		bad("Quorum must be between 1 and Sentinels (%d), got %d", o.Sentinels, o.Quorum)
	}
	if o.DownAfter < time.Millisecond || o.FailoverTimeout < time.Millisecond {
		bad("DownAfter and FailoverTimeout must be at least 1ms, got %v and %v", o.DownAfter, o.FailoverTimeout)
	}
	if o.Server.tls() {
		bad("Server: TLS is not supported in a sentinel deployment")
	}
	for _, f := range []struct{ name, value string }{
		{"MasterName", o.MasterName},
		{"Server.Password", o.Server.Password},
		{"SentinelPassword", o.SentinelPassword},
	} {
		if i := strings.IndexFunc(f.value, unquotable); i >= 0 {
			bad("%s may not contain %q: Redis writes it unquoted into sentinel.conf", f.name, rune(f.value[i]))
		}
	}
	return o, errors.Join(errs...)
}

// unquotable reports characters that would break a sentinel.conf line
// Redis 7.0 writes without quoting: a sentinel restarted from it would not
// start.
func unquotable(r rune) bool { return r <= ' ' || r == '"' || r == '\'' }

// dataDirectives configures a master (masterPort 0) or a replica.
func (o SentinelOptions) dataDirectives(masterPort int) [][]string {
	// Replicas report this address to their master, which passes it on to
	// the sentinels, which hand it to clients. Docker containers share the
	// host's network, so loopback and the listening port are right inside
	// and out, as for cluster nodes.
	d := [][]string{{"replica-announce-ip", "127.0.0.1"}}
	if masterPort != 0 {
		d = append(d, []string{"replicaof", "127.0.0.1", strconv.Itoa(masterPort)})
	}
	return d
}

// sentinelServer is the Options a sentinel's redis-server gets.
func (o SentinelOptions) sentinelServer() Options {
	return Options{Password: o.SentinelPassword, Users: o.SentinelUsers, Backend: o.Server.Backend}
}

// sentinelDirectives is the sentinel part of a sentinel's config file.
// Sentinels find the replicas through the master, and one another through
// hello messages published on the master and replicas.
func (o SentinelOptions) sentinelDirectives(masterPort int) [][]string {
	name := o.MasterName
	d := [][]string{
		{"sentinel", "monitor", name, "127.0.0.1", strconv.Itoa(masterPort), strconv.Itoa(o.Quorum)},
		{"sentinel", "down-after-milliseconds", name, strconv.FormatInt(o.DownAfter.Milliseconds(), 10)},
		{"sentinel", "failover-timeout", name, strconv.FormatInt(o.FailoverTimeout.Milliseconds(), 10)},
		// What a sentinel tells the others about itself; see dataDirectives.
		{"sentinel", "announce-ip", "127.0.0.1"},
	}
	if o.Server.Password != "" {
		d = append(d, []string{"sentinel", "auth-pass", name, o.Server.Password})
	}
	if o.SentinelPassword != "" {
		d = append(d, []string{"sentinel", "sentinel-pass", o.SentinelPassword})
	}
	return d
}

// sentinelTimers shortens sentinel's internal periods, which are made for
// production and not configurable in sentinel.conf, with SENTINEL DEBUG
// (Redis 7.0 and later). Default periods are in parentheses.
var sentinelTimers = []string{
	// How often master and replicas are asked for INFO (10s): how soon
	// sentinels see replicas appear and roles change.
	"info-period", "500",
	// How often hello messages go out (2s): how soon sentinels learn of
	// one another and of a new master. A returning old master is turned
	// into a replica four of these after it is seen.
	"publish-period", "250",
	// How often instances are pinged, and links to them reconnected (1s):
	// how soon a sentinel talks to a new master after a switch.
	"ping-period", "500",
	// How long a sentinel stays passive after its clock jumped (30s), as
	// it does after Pause and Resume or on a stalled machine.
	"tilt-period", "5000",
}

// tune applies sentinelTimers. A sentinel without SENTINEL DEBUG keeps its
// defaults, which are slower but correct.
func tune(sn *Server) error {
	_, err := sn.Do(append([]string{"SENTINEL", "DEBUG"}, sentinelTimers...)...)
	var se serverError
	if errors.As(err, &se) {
		return nil
	}
	return err
}
