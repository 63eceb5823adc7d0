/*
 * Socket helpers: listen and dial, TCP (IPv4, IPv6) and Unix-domain.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "io/io.h"
#include "weft.h"

/* host (numeric, NULL: any IPv4) and port into ss; 0 or -EINVAL. */
static int numeric_addr(const char *host, int port,
			struct sockaddr_storage *ss, socklen_t *len)
{
	struct sockaddr_in *in4 = (struct sockaddr_in *)ss;
	struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)ss;

	if (port < 0 || port > 65535)
		return -EINVAL;
	memset(ss, 0, sizeof(*ss));
	if (!host || inet_pton(AF_INET, host, &in4->sin_addr) == 1) {
		in4->sin_family = AF_INET;
		in4->sin_port = htons((uint16_t)port);
		if (!host)
			in4->sin_addr.s_addr = htonl(INADDR_ANY);
		*len = sizeof(*in4);
		return 0;
	}
	if (inet_pton(AF_INET6, host, &in6->sin6_addr) == 1) {
		in6->sin6_family = AF_INET6;
		in6->sin6_port = htons((uint16_t)port);
		*len = sizeof(*in6);
		return 0;
	}
	return -EINVAL;
}

static int new_socket(int family)
{
	int fd = socket(family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC,
			0);

	if (fd < 0)
		return -errno;
	weft__epoll_forget(fd);	/* no stale record for this number */
	return fd;
}

static int bind_listen(int fd, const struct sockaddr *sa, socklen_t len,
		       int backlog)
{
	if (bind(fd, sa, len) < 0 || listen(fd, backlog) < 0) {
		int e = errno;

		weft__epoll_forget(fd);
		close(fd);
		return -e;
	}
	return fd;
}

int weft_listen_tcp(const char *host, int port, int backlog)
{
	struct sockaddr_storage ss;
	socklen_t len;
	int one = 1, fd, r;

	r = numeric_addr(host, port, &ss, &len);
	if (r < 0)
		return r;
	if (backlog <= 0)
		backlog = SOMAXCONN;
	fd = new_socket(ss.ss_family);
	if (fd < 0)
		return fd;
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	return bind_listen(fd, (struct sockaddr *)&ss, len, backlog);
}

/* Connect a new socket to one address: the socket or a negative errno. */
static int dial_addr(const struct sockaddr *sa, socklen_t len)
{
	int one = 1, fd = new_socket(sa->sa_family), r;

	if (fd < 0)
		return fd;
	r = weft_connect(fd, sa, len);
	if (r < 0) {
		weft__epoll_forget(fd);
		close(fd);
		return r;
	}
	if (sa->sa_family != AF_UNIX)
		setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	return fd;
}

struct resolve_job {
	const char *host;
	const char *service;
	struct addrinfo *res;
	int err;
};

/* On the blocking pool: getaddrinfo blocks (DNS). */
static int resolve(void *arg)
{
	struct resolve_job *j = arg;
	struct addrinfo hints;

	memset(&hints, 0, sizeof(hints));
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_flags = AI_NUMERICSERV | AI_ADDRCONFIG;
	j->err = getaddrinfo(j->host, j->service, &hints, &j->res);
	return 0;
}

/* getaddrinfo's EAI_* codes as errno values. */
static int eai_errno(int err)
{
	switch (err) {
	case EAI_NONAME:
	case EAI_NODATA:
		return -ENOENT;
	case EAI_AGAIN:
		return -EAGAIN;
	case EAI_MEMORY:
		return -ENOMEM;
	case EAI_SYSTEM:
		return errno ? -errno : -EIO;
	default:
		return -EINVAL;
	}
}

int weft_dial_tcp(const char *host, int port)
{
	struct sockaddr_storage ss;
	struct resolve_job j;
	struct addrinfo *ai;
	char service[8];
	socklen_t len;
	int r;

	if (!host)
		return -EINVAL;
	if (numeric_addr(host, port, &ss, &len) == 0)
		return dial_addr((struct sockaddr *)&ss, len);
	if (port < 0 || port > 65535)
		return -EINVAL;
	snprintf(service, sizeof(service), "%d", port);
	memset(&j, 0, sizeof(j));
	j.host = host;
	j.service = service;
	r = weft_blocking(resolve, &j);
	if (r < 0) {
		/* Interrupted after it ran: free what it found. */
		if (j.res)
			freeaddrinfo(j.res);
		return r;
	}
	if (j.err)
		return eai_errno(j.err);
	r = -ENOENT;
	/* Every address in turn, as a browser would (no happy eyeballs). */
	for (ai = j.res; ai; ai = ai->ai_next) {
		r = dial_addr(ai->ai_addr, ai->ai_addrlen);
		if (r >= 0 || r == -ECANCELED || r == -ETIMEDOUT)
			break;
	}
	freeaddrinfo(j.res);
	return r;
}

static int unix_addr(const char *path, struct sockaddr_un *sun,
		     socklen_t *len)
{
	size_t n;

	if (!path || !*path)
		return -EINVAL;
	n = strlen(path);
	if (n >= sizeof(sun->sun_path))
		return -ENAMETOOLONG;
	memset(sun, 0, sizeof(*sun));
	sun->sun_family = AF_UNIX;
	memcpy(sun->sun_path, path, n);
	*len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + n + 1);
	return 0;
}

int weft_listen_unix(const char *path, int backlog)
{
	struct sockaddr_un sun;
	socklen_t len;
	int fd, r = unix_addr(path, &sun, &len);

	if (r < 0)
		return r;
	if (backlog <= 0)
		backlog = SOMAXCONN;
	fd = new_socket(AF_UNIX);
	if (fd < 0)
		return fd;
	return bind_listen(fd, (struct sockaddr *)&sun, len, backlog);
}

int weft_dial_unix(const char *path)
{
	struct sockaddr_un sun;
	socklen_t len;
	int r = unix_addr(path, &sun, &len);

	if (r < 0)
		return r;
	return dial_addr((struct sockaddr *)&sun, len);
}

int weft_local_port(int fd)
{
	struct sockaddr_storage ss;
	socklen_t len = sizeof(ss);

	if (getsockname(fd, (struct sockaddr *)&ss, &len) < 0)
		return -errno;
	if (ss.ss_family == AF_INET)
		return ntohs(((struct sockaddr_in *)&ss)->sin_port);
	if (ss.ss_family == AF_INET6)
		return ntohs(((struct sockaddr_in6 *)&ss)->sin6_port);
	return -EAFNOSUPPORT;
}
