package natsbroker_test

import (
	"testing"

	"github.com/openspeed/wsd/internal/wstest"
)

func TestMain(m *testing.M) {
	wstest.VerifyTestMain(m)
}
