// Package faults runs kt and keepalived 2.2.7 on configurations whose
// meaning keepalived decides from the host or from defaults that are easy
// to get wrong: instances it holds in FAULT from the start (its
// configuration faults: unicast_fault_no_peer without peers, a multicast
// instance on an interface without multicast), static addresses without
// an interface, the start and shutdown scripts, and the notify FIFO on a
// reload. It compares what each
// does: the states its notify script is told, the addresses it adds, what
// its scripts see, and what its check of the file says.
package faults
