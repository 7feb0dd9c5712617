// Package e2e holds kt's end-to-end tests only: the kt binary against
// keepalived 2.2.7, FRR and the kernel in network namespaces and the IPVS
// VM, proving that the packages are wired together as a user runs them.
package e2e
