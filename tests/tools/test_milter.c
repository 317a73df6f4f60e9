/* A milter for the integration tests, built on libmilter (libmilter-dev): what it does
 * depends on the message's Subject, so that each test picks a behaviour.
 *
 *   usage: test_milter SOCKET        (inet:PORT@127.0.0.1 or unix:/path)
 *
 * Every message gets "X-Test-Milter: seen" and a header naming the macros it was given.
 * A recipient whose local part is "milter-refuses" is rejected at RCPT (550 5.1.1).
 * Subjects: "milter reject" (550 5.7.1 at the end), "milter tempfail" (451 4.7.1),
 * "milter discard", "milter quarantine", "milter replace body", "milter change header"
 * (Subject changed, X-Inserted inserted at the top), "milter add rcpt" (added@example.jp
 * added, the first recipient deleted), "milter slow" (3 s before answering). */
#include <libmilter/mfapi.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

struct state {
    char subject[256];
    char first_rcpt[256];
};

static struct state *state_of(SMFICTX *ctx) {
    struct state *s = smfi_getpriv(ctx);
    if (!s) {
        s = calloc(1, sizeof *s);
        smfi_setpriv(ctx, s);
    }
    return s;
}

static const char *macro(SMFICTX *ctx, char *name) {
    const char *v = smfi_getsymval(ctx, name);
    return v ? v : "-";
}

static sfsistat on_envfrom(SMFICTX *ctx, char **argv) {
    struct state *s = state_of(ctx);
    s->subject[0] = s->first_rcpt[0] = 0;
    (void)argv;
    return SMFIS_CONTINUE;
}

static sfsistat on_envrcpt(SMFICTX *ctx, char **argv) {
    struct state *s = state_of(ctx);
    if (strncasecmp(argv[0], "<milter-refuses@", 16) == 0) {
        smfi_setreply(ctx, "550", "5.1.1", "No such user here (test milter)");
        return SMFIS_REJECT;
    }
    if (!s->first_rcpt[0]) snprintf(s->first_rcpt, sizeof s->first_rcpt, "%s", argv[0]);
    return SMFIS_CONTINUE;
}

static sfsistat on_header(SMFICTX *ctx, char *name, char *value) {
    struct state *s = state_of(ctx);
    if (strcasecmp(name, "Subject") == 0) snprintf(s->subject, sizeof s->subject, "%s", value);
    return SMFIS_CONTINUE;
}

static sfsistat on_eom(SMFICTX *ctx) {
    struct state *s = state_of(ctx);
    char macros[1024];
    snprintf(macros, sizeof macros, "j=%s daemon_name=%s client_addr=%s auth_authen=%s i=%s mail_addr=%s",
             macro(ctx, "j"), macro(ctx, "{daemon_name}"), macro(ctx, "{client_addr}"), macro(ctx, "{auth_authen}"),
             macro(ctx, "i"), macro(ctx, "{mail_addr}"));
    smfi_addheader(ctx, "X-Test-Milter", "seen");
    smfi_addheader(ctx, "X-Test-Milter-Macros", macros);
    if (strstr(s->subject, "milter reject")) {
        smfi_setreply(ctx, "550", "5.7.1", "Rejected by the test milter");
        return SMFIS_REJECT;
    }
    if (strstr(s->subject, "milter tempfail")) {
        smfi_setreply(ctx, "451", "4.7.1", "Try again later (test milter)");
        return SMFIS_TEMPFAIL;
    }
    if (strstr(s->subject, "milter discard")) return SMFIS_DISCARD;
    if (strstr(s->subject, "milter quarantine")) smfi_quarantine(ctx, "held by the test milter");
    if (strstr(s->subject, "milter replace body")) {
        static unsigned char body[] = "Body replaced by the test milter.\r\n";
        smfi_replacebody(ctx, body, (int)strlen((char *)body));
    }
    if (strstr(s->subject, "milter change header")) {
        smfi_chgheader(ctx, "Subject", 1, "changed by the test milter");
        smfi_insheader(ctx, 0, "X-Inserted", "first");
    }
    if (strstr(s->subject, "milter add rcpt")) {
        smfi_addrcpt(ctx, "<added@example.jp>");
        smfi_delrcpt(ctx, s->first_rcpt);
    }
    if (strstr(s->subject, "milter slow")) sleep(3);
    return SMFIS_CONTINUE;
}

static sfsistat on_close(SMFICTX *ctx) {
    free(smfi_getpriv(ctx));
    smfi_setpriv(ctx, NULL);
    return SMFIS_CONTINUE;
}

int main(int argc, char **argv) {
    struct smfiDesc desc = {
        "haineko-test-milter", SMFI_VERSION,
        SMFIF_ADDHDRS | SMFIF_CHGHDRS | SMFIF_CHGBODY | SMFIF_ADDRCPT | SMFIF_DELRCPT | SMFIF_QUARANTINE,
        NULL, NULL, on_envfrom, on_envrcpt, on_header, NULL, NULL, on_eom, NULL, on_close, NULL, NULL, NULL,
    };
    if (argc != 2) {
        fprintf(stderr, "usage: test_milter SOCKET\n");
        return 2;
    }
    if (smfi_setconn(argv[1]) == MI_FAILURE || smfi_register(desc) == MI_FAILURE) {
        fprintf(stderr, "test_milter: cannot set up %s\n", argv[1]);
        return 1;
    }
    return smfi_main() == MI_SUCCESS ? 0 : 1;
}
