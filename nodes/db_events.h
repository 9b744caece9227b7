/* db_events: the node events each system under test writes (JSON lines on
 * its stdout), so that a scenario's reactive rules can be checked at load
 * time. (Moves onto struct db_ops with the plugin contract.) */
#ifndef FAULTLINE_DB_EVENTS_H
#define FAULTLINE_DB_EVENTS_H

/* The event names of the db called @db_name, NULL-terminated; NULL for a
 * db that declares none. */
const char *const *db_events(const char *db_name);

extern const char *const taskd_events[];

#endif /* FAULTLINE_DB_EVENTS_H */
