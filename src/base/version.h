/* version.h - the version gust reports (`gust --version`, GET /api/v1/health). */
#ifndef GUST_BASE_VERSION_H
#define GUST_BASE_VERSION_H

#ifndef GUST_VERSION
#define GUST_VERSION "0.1.0"
#endif

#endif
