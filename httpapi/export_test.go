package httpapi

import "github.com/kseal-dev/kseal/crypto/sealedsecret"

// WithOpenerWrapper returns opts with wrap applied to the keyring every
// request opens items with, so tests can count or pause the work.
func WithOpenerWrapper(opts Options, wrap func(sealedsecret.Opener) sealedsecret.Opener) Options {
	opts.wrapOpener = wrap
	return opts
}
