package controllers

import "github.com/kseal-dev/kseal/crypto/sealedsecret"

// WithOpenerWrapper returns opts with wrap applied to the keyring every
// request opens items with, so tests can count or pause the work.
func WithOpenerWrapper(opts APIOptions, wrap func(sealedsecret.Opener) sealedsecret.Opener) APIOptions {
	opts.wrapOpener = wrap
	return opts
}
