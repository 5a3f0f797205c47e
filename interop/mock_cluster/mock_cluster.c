/*
 * durian-mock-cluster: librdkafka's mock cluster as a stand-alone peer.
 *
 * Starts a mock cluster of N brokers (argv[1], default 3), prints
 *
 *     bootstrap HOST:PORT,HOST:PORT,...
 *
 * on stdout, then reads one command per line from stdin and answers each
 * with one line, `ok` or `error: <reason>`, so a test can wait for a fault
 * to be in place before it goes on. Commands:
 *
 *     topic NAME PARTITIONS REPLICATION     create a topic
 *     leader TOPIC PARTITION BROKER         move a partition's leader
 *     down BROKER | up BROKER               take a broker down / bring it up
 *     errors APIKEY COUNT CODE              the next COUNT requests of APIKEY
 *                                           (on any broker) fail with CODE
 *     rtt BROKER MS                         delay every answer of BROKER
 *     quit                                  (or end of input) stop
 *
 * Brokers are numbered from 1. Used by durian's peer tests (testkit's
 * mock_cluster module); built by scripts/install-peers.sh.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafka_mock.h>

#define MAX_ERRORS 10000

/* Parses a whole decimal integer within [min, max]; 0 on success. */
static int parse_long(const char *text, long min, long max, long *out) {
        char *end;
        long value;

        if (!text)
                return -1;
        errno = 0;
        value = strtol(text, &end, 10);
        if (errno || end == text || *end || value < min || value > max)
                return -1;
        *out = value;
        return 0;
}

static void reply(rd_kafka_resp_err_t err) {
        if (err)
                printf("error: %s\n", rd_kafka_err2str(err));
        else
                printf("ok\n");
        fflush(stdout);
}

static void usage_error(const char *what) {
        printf("error: usage: %s\n", what);
        fflush(stdout);
}

/* Applies one command line; returns 1 when the program should stop. */
static int apply(rd_kafka_mock_cluster_t *mcluster, char *line) {
        static rd_kafka_resp_err_t errors[MAX_ERRORS];
        const char *words[5] = {NULL};
        long a, b, c;
        int n = 0;
        char *save = NULL;
        char *word;

        for (word = strtok_r(line, " \t\r\n", &save); word && n < 5;
             word = strtok_r(NULL, " \t\r\n", &save))
                words[n++] = word;
        if (n == 0)
                return 0;

        if (!strcmp(words[0], "quit"))
                return 1;

        if (!strcmp(words[0], "topic")) {
                if (n != 4 || parse_long(words[2], 1, 100000, &a) ||
                    parse_long(words[3], 1, 100, &b)) {
                        usage_error("topic NAME PARTITIONS REPLICATION");
                        return 0;
                }
                reply(rd_kafka_mock_topic_create(mcluster, words[1], (int)a,
                                                 (int)b));
        } else if (!strcmp(words[0], "leader")) {
                if (n != 4 || parse_long(words[2], 0, 100000, &a) ||
                    parse_long(words[3], -1, 100000, &b)) {
                        usage_error("leader TOPIC PARTITION BROKER");
                        return 0;
                }
                reply(rd_kafka_mock_partition_set_leader(
                    mcluster, words[1], (int32_t)a, (int32_t)b));
        } else if (!strcmp(words[0], "down") || !strcmp(words[0], "up")) {
                if (n != 2 || parse_long(words[1], 1, 100000, &a)) {
                        usage_error("down|up BROKER");
                        return 0;
                }
                reply(words[0][0] == 'd'
                          ? rd_kafka_mock_broker_set_down(mcluster, (int32_t)a)
                          : rd_kafka_mock_broker_set_up(mcluster, (int32_t)a));
        } else if (!strcmp(words[0], "errors")) {
                long i;
                if (n != 4 || parse_long(words[1], 0, 1000, &a) ||
                    parse_long(words[2], 1, MAX_ERRORS, &b) ||
                    parse_long(words[3], -1, 10000, &c)) {
                        usage_error("errors APIKEY COUNT CODE");
                        return 0;
                }
                for (i = 0; i < b; i++)
                        errors[i] = (rd_kafka_resp_err_t)c;
                rd_kafka_mock_push_request_errors_array(mcluster, (int16_t)a,
                                                        (size_t)b, errors);
                reply(RD_KAFKA_RESP_ERR_NO_ERROR);
        } else if (!strcmp(words[0], "rtt")) {
                if (n != 3 || parse_long(words[1], 1, 100000, &a) ||
                    parse_long(words[2], 0, 600000, &b)) {
                        usage_error("rtt BROKER MS");
                        return 0;
                }
                reply(rd_kafka_mock_broker_set_rtt(mcluster, (int32_t)a,
                                                   (int)b));
        } else {
                printf("error: unknown command '%s'\n", words[0]);
                fflush(stdout);
        }
        return 0;
}

int main(int argc, char **argv) {
        char errstr[512];
        char line[1024];
        long brokers = 3;
        rd_kafka_conf_t *conf;
        rd_kafka_t *rk;
        rd_kafka_mock_cluster_t *mcluster;

        if (argc > 2 || (argc == 2 && parse_long(argv[1], 1, 64, &brokers))) {
                fprintf(stderr, "usage: %s [BROKERS (1-64, default 3)]\n",
                        argv[0]);
                return 2;
        }

        /* The mock cluster lives inside a client handle; this one never
         * sends anything itself. */
        conf = rd_kafka_conf_new();
        if (rd_kafka_conf_set(conf, "log_level", "3", errstr,
                              sizeof(errstr)) != RD_KAFKA_CONF_OK) {
                fprintf(stderr, "%s\n", errstr);
                return 1;
        }
        rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, errstr, sizeof(errstr));
        if (!rk) {
                fprintf(stderr, "rd_kafka_new: %s\n", errstr);
                return 1;
        }
        mcluster = rd_kafka_mock_cluster_new(rk, (int)brokers);
        if (!mcluster) {
                fprintf(stderr, "rd_kafka_mock_cluster_new failed\n");
                rd_kafka_destroy(rk);
                return 1;
        }

        /* librdkafka 2.0.2's mock answers ListOffsets v4 and v5 with 8
         * bytes where the partition's 4-byte LeaderEpoch belongs, which
         * shifts every later partition of the answer. v0-v3 are right, so
         * the cluster offers only those. */
        rd_kafka_mock_set_apiversion(mcluster, 2 /* ListOffsets */, 0, 3);

        printf("bootstrap %s\n", rd_kafka_mock_cluster_bootstraps(mcluster));
        fflush(stdout);

        while (fgets(line, sizeof(line), stdin)) {
                if (apply(mcluster, line))
                        break;
        }

        rd_kafka_mock_cluster_destroy(mcluster);
        rd_kafka_destroy(rk);
        return 0;
}
