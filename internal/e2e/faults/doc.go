// Package faults runs kt and keepalived 2.2.7 on configurations whose
// instances keepalived holds in FAULT from the start (its configuration
// faults: unicast_fault_no_peer without peers, a multicast instance on an
// interface without multicast) and compares what each does: the states its
// notify script is told, the addresses it adds, and what its check of the
// file says.
package faults
