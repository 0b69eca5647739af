package natsbroker

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// jsMode is the broker's JetStream side (nil in relay mode).
type jsMode struct {
	js      jetstream.JetStream
	rq      *requests
	seq     *sequencer
	direct  string // "$JS.API.DIRECT.GET.<stream>"
	readers chan struct{}
	ctx     context.Context // cancelled by Close: History reads stop
	cancel  context.CancelFunc
	hwg     sync.WaitGroup // History reads in progress

	warnMu   sync.Mutex
	lastWarn time.Time
}

// maxReaders bounds the History reads running at once (each is a short-lived consumer on the
// stream); the others wait for a slot.
const maxReaders = 8

// storedSubject is the subject room's publications are stored on.
func (b *Broker) storedSubject(room string) string {
	tok, _ := roomToken(room)
	return b.storedPfx + tok
}

// liveSubject is the subject the stream republishes room's stored messages to.
func (b *Broker) liveSubject(room string) string {
	tok, _ := roomToken(room)
	return b.livePfx + tok
}

// streamConfig is the stream the options describe.
func (b *Broker) streamConfig() jetstream.StreamConfig {
	o := b.opts
	cfg := jetstream.StreamConfig{
		Name:              o.Stream,
		Description:       "wsd rooms: publications and history (rooms/natsbroker)",
		Subjects:          []string{b.storedPfx + ">"},
		Retention:         jetstream.LimitsPolicy,
		Discard:           jetstream.DiscardOld,
		MaxMsgsPerSubject: int64(max(o.HistorySize, -1)),
		MaxBytes:          max(o.HistoryBytes, -1),
		MaxAge:            max(o.HistoryTTL, 0),
		MaxMsgs:           -1,
		MaxConsumers:      -1,
		Storage:           jetstream.FileStorage,
		Replicas:          o.Replicas,
		AllowDirect:       true,
		RePublish:         &jetstream.RePublish{Source: b.storedPfx + ">", Destination: b.livePfx + ">"},
	}
	if o.Storage == "memory" {
		cfg.Storage = jetstream.MemoryStorage
	}
	if cfg.MaxAge > 0 && cfg.MaxAge < 2*time.Minute {
		cfg.Duplicates = cfg.MaxAge // the server refuses a duplicate window longer than MaxAge
	}
	return cfg
}

// errNoJetStream reports a NATS server (or account) without JetStream.
var errNoJetStream = errors.New("natsbroker: JetStream not available")

// setupJetStream checks that the server offers JetStream and creates the stream, or updates it
// when its limits differ from the options (every node should use the same ones; the last to start
// wins). The storage type of an existing stream is kept: JetStream cannot change it.
func (b *Broker) setupJetStream(ctx context.Context) (*jsMode, error) {
	js, err := jetstream.New(b.nc)
	if err != nil {
		return nil, err
	}
	if _, err := js.AccountInfo(ctx); err != nil {
		return nil, fmt.Errorf("%w: %v", errNoJetStream, err)
	}
	want := b.streamConfig()
	s, err := js.Stream(ctx, want.Name)
	switch {
	case errors.Is(err, jetstream.ErrStreamNotFound):
		_, err = js.CreateStream(ctx, want)
	case err == nil:
		err = b.updateStream(ctx, js, s.CachedInfo().Config, want)
	}
	if err != nil {
		return nil, fmt.Errorf("natsbroker: stream %s: %w", want.Name, err)
	}
	rq, err := newRequests(b.nc, DefaultRequestTimeout)
	if err != nil {
		return nil, err
	}
	m := &jsMode{js: js, rq: rq, direct: "$JS.API.DIRECT.GET." + want.Name,
		readers: make(chan struct{}, maxReaders)}
	m.ctx, m.cancel = context.WithCancel(context.Background())
	m.seq = newSequencer(b)
	return m, nil
}

// updateStream brings an existing stream's limits, subjects and republishing to want.
func (b *Broker) updateStream(ctx context.Context, js jetstream.JetStream, have, want jetstream.StreamConfig) error {
	if have.Storage != want.Storage {
		b.logger().Warn("natsbroker: the stream keeps its storage type", "stream", want.Name,
			"storage", have.Storage.String(), "wanted", want.Storage.String())
		want.Storage = have.Storage
	}
	same := slices.Equal(have.Subjects, want.Subjects) && have.RePublish != nil &&
		*have.RePublish == *want.RePublish && have.AllowDirect &&
		have.MaxMsgsPerSubject == want.MaxMsgsPerSubject && have.MaxBytes == want.MaxBytes &&
		have.MaxAge == want.MaxAge && have.Replicas == want.Replicas && have.Discard == want.Discard
	if same {
		return nil
	}
	b.logger().Info("natsbroker: updating the stream to this node's options", "stream", want.Name)
	_, err := js.UpdateStream(ctx, want)
	return err
}

// DefaultRequestTimeout bounds one JetStream request (a commit's acknowledgement, a read).
const DefaultRequestTimeout = 5 * time.Second

// lastReq is a direct get of the last stored message of subj.
func (b *Broker) lastReq(subj string) *nats.Msg {
	return &nats.Msg{Subject: b.js.direct, Data: []byte(`{"last_by_subj":` + strconv.Quote(subj) + `}`)}
}

// nextReq is a direct get of the first stored message of subj at or after stream sequence seq.
func (b *Broker) nextReq(subj string, seq uint64) *nats.Msg {
	return &nats.Msg{Subject: b.js.direct,
		Data: []byte(`{"seq":` + strconv.FormatUint(seq, 10) + `,"next_by_subj":` + strconv.Quote(subj) + `}`)}
}

// noteTransient logs a failed JetStream exchange, at most once per 10 s.
func (b *Broker) noteTransient(err error) {
	b.js.warnMu.Lock()
	defer b.js.warnMu.Unlock()
	if time.Since(b.js.lastWarn) < 10*time.Second {
		return
	}
	b.js.lastWarn = time.Now()
	b.logger().Warn("natsbroker: JetStream request failed; retrying", "node", b.opts.NodeID, "err", err)
}

// recheck asks room's worker to read the room's last stored message and catch up if behind.
func (b *Broker) recheck(room string) {
	w := b.workerFor(b.liveSubject(room))
	w.mail.post(func() { w.recheckRoom(room) })
}

// recheckAll asks every worker to recheck all its rooms (after a reconnect or a slow consumer).
func (b *Broker) recheckAll() {
	for _, w := range b.workers {
		w.mail.post(func() {
			for room := range w.rooms {
				w.recheckRoom(room)
			}
		})
	}
}
