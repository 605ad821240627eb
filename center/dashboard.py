"""placeholder"""
def mount_dashboard(app, center):
    pass
