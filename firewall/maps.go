package firewall

import (
	"errors"
	"fmt"
	"time"

	"github.com/google/nftables"
	"github.com/google/nftables/binaryutil"
	"github.com/google/nftables/userdata"
	"github.com/mdlayher/netlink"
	"golang.org/x/sys/unix"
)

// The nftables library cannot tag a map's data byte order in the set's user
// data (NFTNL_UDATA_SET_DATABYTEORDER), which the nft program reads to print
// an iface_index value as an interface name: without it `nft list ruleset`
// shows `"vrrp.1" : 50331648` instead of `"vrrp.1" : "eth0"` (the kernel
// state is the same). So the tables and the two vmac_map maps are created
// here, in a first batch of raw nfnetlink messages shaped as nft shapes them;
// the library adds the rest in a second batch.

// replaceTables removes tables left by an earlier run and creates the
// tables with their vmac_map, in one atomic batch.
func replaceTables(netns int, table string) error {
	var msgs []netlink.Message
	add := func(fam nftables.TableFamily, typ int, flags netlink.HeaderFlags, attrs []netlink.Attribute) error {
		b, err := netlink.MarshalAttributes(attrs)
		if err != nil {
			return err
		}
		msgs = append(msgs, netlink.Message{
			Header: netlink.Header{
				Type:  netlink.HeaderType(unix.NFNL_SUBSYS_NFTABLES<<8 | typ),
				Flags: netlink.Request | netlink.Acknowledge | flags,
			},
			Data: append(nfgen(byte(fam), 0), b...),
		})
		return nil
	}
	name := []byte(table + "\x00")
	tattrs := []netlink.Attribute{{Type: unix.NFTA_TABLE_NAME, Data: name}}
	var udata []byte
	udata = userdata.AppendUint32(udata, userdata.NFTNL_UDATA_SET_KEYBYTEORDER, 1)  // host order
	udata = userdata.AppendUint32(udata, userdata.NFTNL_UDATA_SET_DATABYTEORDER, 1) // host order
	be := binaryutil.BigEndian.PutUint32
	for _, fam := range []nftables.TableFamily{nftables.TableFamilyIPv4, nftables.TableFamilyIPv6} {
		// Adding before deleting makes the delete succeed whether or not
		// an earlier run left the table.
		for _, step := range []struct {
			typ   int
			flags netlink.HeaderFlags
		}{{unix.NFT_MSG_NEWTABLE, netlink.Create}, {unix.NFT_MSG_DELTABLE, 0}, {unix.NFT_MSG_NEWTABLE, netlink.Create}} {
			if err := add(fam, step.typ, step.flags, tattrs); err != nil {
				return err
			}
		}
		err := add(fam, unix.NFT_MSG_NEWSET, netlink.Create, []netlink.Attribute{
			{Type: unix.NFTA_SET_TABLE, Data: name},
			{Type: unix.NFTA_SET_NAME, Data: []byte("vmac_map\x00")},
			{Type: unix.NFTA_SET_FLAGS, Data: be(unix.NFT_SET_MAP)},
			{Type: unix.NFTA_SET_KEY_TYPE, Data: be(20)}, // iface_index
			{Type: unix.NFTA_SET_KEY_LEN, Data: be(4)},
			{Type: unix.NFTA_SET_ID, Data: be(uint32(len(msgs)))},
			{Type: unix.NFTA_SET_DATA_TYPE, Data: be(20)},
			{Type: unix.NFTA_SET_DATA_LEN, Data: be(4)},
			{Type: unix.NFTA_SET_USERDATA, Data: udata},
		})
		if err != nil {
			return err
		}
	}
	batch := append([]netlink.Message{{
		Header: netlink.Header{Type: netlink.HeaderType(unix.NFNL_MSG_BATCH_BEGIN), Flags: netlink.Request},
		Data:   nfgen(unix.AF_UNSPEC, unix.NFNL_SUBSYS_NFTABLES),
	}}, msgs...)
	batch = append(batch, netlink.Message{
		Header: netlink.Header{Type: netlink.HeaderType(unix.NFNL_MSG_BATCH_END), Flags: netlink.Request},
		Data:   nfgen(unix.AF_UNSPEC, unix.NFNL_SUBSYS_NFTABLES),
	})

	conn, err := netlink.Dial(unix.NETLINK_NETFILTER, &netlink.Config{NetNS: netns})
	if err != nil {
		return fmt.Errorf("netfilter netlink: %w", err)
	}
	defer conn.Close()
	if err := conn.SetDeadline(time.Now().Add(5 * time.Second)); err != nil {
		return fmt.Errorf("netfilter netlink: %w", err)
	}
	if _, err := conn.SendMessages(batch); err != nil {
		return fmt.Errorf("netfilter netlink: send: %w", err)
	}
	// One acknowledgement (or error) per message; the batch is atomic, so
	// any error means nothing changed.
	var errs []error
	for range msgs {
		if _, err := conn.Receive(); err != nil {
			errs = append(errs, err)
			if errors.Is(err, unix.EPERM) || errors.Is(err, unix.ENOBUFS) {
				break // the kernel sends only this one
			}
		}
	}
	return errors.Join(errs...)
}

// nfgen is struct nfgenmsg.
func nfgen(family byte, resID uint16) []byte {
	return append([]byte{family, unix.NFNETLINK_V0}, binaryutil.BigEndian.PutUint16(resID)...)
}
