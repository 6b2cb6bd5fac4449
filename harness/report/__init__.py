"""Evidence for the Allure report: attachments, environment, HTML generation."""
