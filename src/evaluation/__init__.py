"""Follow-up and evaluation toolkit for children placed in out-of-home care (social dygnsvård).

Importing the package has no side effects: no logging set-up, no key loading.
Data flows one way: dictionary -> io -> validate -> pseudonymise -> measures/models
-> disclosure -> plots/report.
"""

__version__ = "0.1.0"
