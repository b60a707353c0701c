"""sgdlab"""
