"""The ``mpg-launch`` command line: the parser (:mod:`.main`) and one function per verb
(:mod:`.verbs`). Nothing here builds a request."""
