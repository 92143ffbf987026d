/* The C template plugin exports only edgehal_plugin_entry (declared in edgehal_plugin.h). */
#include "edgehal_plugin.h"
const eh_plugin *edgehal_plugin_entry(void);
