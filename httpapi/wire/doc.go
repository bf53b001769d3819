// Package wire holds the names the kseal controller's HTTP API and its
// clients share: request paths and response headers. It is constants only,
// so the CLI imports it without the controller's dependencies.
package wire
