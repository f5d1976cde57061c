# Report the PCI functions this guest's kernel found, and which have a
# driver and a network interface, as "XH-PCI <bdf> <vendor>:<device> ..."
# console lines (HVM guests have no xh_guest_exec: scenarios read these).
for d in /sys/bus/pci/devices/*; do
	[ -e "$d/vendor" ] || continue
	drv=-
	[ -e "$d/driver" ] && drv=$(basename "$(readlink "$d/driver")")
	net=$(ls "$d/net" 2>/dev/null | tr '\n' ',')
	echo "XH-PCI $(basename "$d") $(cat "$d/vendor"):$(cat "$d/device") driver=$drv net=${net:--}"
done
