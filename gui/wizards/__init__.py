"""Step-by-step dialogs for the actions that need several answers."""

from gui.wizards.create_ca import CreateCaWizard
from gui.wizards.issue_bundle import BundleReadyDialog, IssueBundleWizard
from gui.wizards.issue_server import IssueServerWizard
from gui.wizards.roster import RosterWizard

__all__ = ["BundleReadyDialog", "CreateCaWizard", "IssueBundleWizard", "IssueServerWizard", "RosterWizard"]
