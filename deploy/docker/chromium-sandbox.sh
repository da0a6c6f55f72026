# wapool image: sourced by Debian's /usr/bin/chromium launcher (every file in
# /etc/chromium.d/ is). See deploy/docker/README.md, "Chromium's sandbox".
#
# Chromium sandboxes its renderers in new user namespaces. A container's
# default seccomp profile (Docker's, Kubernetes' RuntimeDefault) refuses to
# create them without CAP_SYS_ADMIN, and Chromium then refuses to start. So in
# this image the container is the sandbox and Chromium runs with --no-sandbox,
# unless CHROMIUM_SANDBOX=on says the runtime allows user namespaces.
if [ "${CHROMIUM_SANDBOX:-off}" != on ]; then
	export CHROMIUM_FLAGS="$CHROMIUM_FLAGS --no-sandbox"
fi
