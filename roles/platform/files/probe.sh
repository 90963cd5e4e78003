# routerha's platform probe (read by plugins/plugin_utils/platform.py): POSIX sh,
# no Python needed on the router. Sections are headed '== NAME'.
echo "== os-release"; cat /etc/os-release 2>/dev/null
echo "== vyos-version"; cat /usr/share/vyos/version.json 2>/dev/null
echo "== vyatta-version"; cat /opt/vyatta/etc/version 2>/dev/null
echo "== edgeos-version"; cat /etc/version 2>/dev/null
echo "== wrapper"; test -x /opt/vyatta/sbin/vyatta-cfg-cmd-wrapper && echo present
echo "== systemd"; test -d /run/systemd/system && echo present
echo "== python"
for p in /usr/bin/python3 /usr/local/bin/python3 /usr/bin/python; do
  test -x "$p" && echo "$p $("$p" -c 'import sys; print("%d.%d.%d" % sys.version_info[:3])' 2>/dev/null || "$p" -V 2>&1)"
done
echo "== end"
