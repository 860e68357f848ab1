"""evlab's core: the event system of the usage guide (see ``evlab.core.events``)."""
